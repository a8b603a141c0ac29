package store

import (
	"fmt"
	"strconv"
	"strings"
)

// LogPos is a position in the view log: a Redis Stream entry id, ms-seq.
// The zero LogPos is before every entry.
type LogPos struct{ Ms, Seq uint64 }

// ParseLogPos parses an entry id as Redis writes it ("1733300000000-3").
func ParseLogPos(s string) (LogPos, error) {
	ms, seq, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return LogPos{}, fmt.Errorf("store: bad view log position %q", s)
	}
	return LogPos{a, b}, nil
}

func (p LogPos) String() string {
	return strconv.FormatUint(p.Ms, 10) + "-" + strconv.FormatUint(p.Seq, 10)
}

// Less reports whether p comes before q.
func (p LogPos) Less(q LogPos) bool { return p.Ms < q.Ms || p.Ms == q.Ms && p.Seq < q.Seq }

// IsZero reports whether p is before every entry.
func (p LogPos) IsZero() bool { return p == LogPos{} }

// ViewLogState is what SQL holds of the view log: the last entry whose views
// are in products.hits, the token of the flush that applied it, and the
// token before that one.
type ViewLogState struct {
	Applied LogPos
	Token   string
	Prev    string
}
