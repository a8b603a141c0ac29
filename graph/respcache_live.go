package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// A cached response that shows view counts keeps its body cut around each
// count. A hit whose counts are older than HitsMaxStaleness (or than a
// view this instance counted) reads the counts of its products, in one
// call to the view counter, and splices them in: the page is not executed
// again for a live field.

// hitsField is one hits field of a response: its path in the response's
// data, and its product.
type hitsField struct {
	path ast.Path
	id   int64
}

// noteHits tells the request's recording, if any, that the field in ctx
// shows the view count of product id.
func noteHits(ctx context.Context, id int64) {
	rec := recordingOf(ctx)
	if rec == nil {
		return
	}
	path := graphql.GetFieldContext(ctx).Path()
	rec.set(func(r *recording) { r.hits = append(r.hits, hitsField{path, id}) })
}

// liveHits is a body cut around its view counts: parts[i] comes before
// the count of ids[i], the last part after the last count.
type liveHits struct {
	parts    [][]byte
	ids      []int64
	distinct []int64 // ids, each once, for the view counter
}

// rendering is a cached response's body as it is served.
type rendering struct {
	body []byte
	etag string
	// at is when its view counts were read; gen, the entry's gen then.
	at  time.Time
	gen uint64
}

// cutHits finds the view counts of fields in body, a response as gqlgen
// writes it, and returns body cut around them. ok is false when a field
// is not where its path says, as a number.
func cutHits(body []byte, fields []hitsField) (l *liveHits, ok bool) {
	want := make(map[string]int64, len(fields))
	for _, f := range fields {
		want["data."+f.path.String()] = f.id
	}
	var stack []jsonFrame
	path := func() string {
		var b strings.Builder
		for i, f := range stack {
			switch {
			case f.array:
				b.WriteString("[" + strconv.Itoa(f.n) + "]")
			case i > 0:
				b.WriteString("." + f.key)
			default:
				b.WriteString(f.key)
			}
		}
		return b.String()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	l, last := &liveHits{}, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false
		}
		if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].wantKey {
			if d, isDelim := tok.(json.Delim); isDelim && d == '}' {
				stack = stack[:n-1]
				advance(stack)
				continue
			}
			stack[n-1].key, stack[n-1].wantKey = tok.(string), false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, jsonFrame{wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, jsonFrame{array: true})
			continue
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if num, isNum := tok.(json.Number); isNum {
				if id, found := want[path()]; found {
					end := int(dec.InputOffset())
					start := end - len(num)
					l.parts = append(l.parts, body[last:start])
					l.ids = append(l.ids, id)
					last = end
				}
			}
		}
		advance(stack)
	}
	if len(l.ids) != len(fields) {
		return nil, false
	}
	l.parts = append(l.parts, body[last:])
	l.distinct = slices.Compact(slices.Sorted(slices.Values(l.ids)))
	return l, true
}

// jsonFrame is an object or array cutHits is in.
type jsonFrame struct {
	array   bool
	n       int    // the index of the array's current value
	key     string // the object's current key
	wantKey bool
}

// advance moves the innermost container past the value just read.
func advance(stack []jsonFrame) {
	if n := len(stack); n > 0 {
		if stack[n-1].array {
			stack[n-1].n++
		} else {
			stack[n-1].wantKey = true
		}
	}
}

// render returns the body with counts spliced in; ok is false when a
// product has no count (it no longer exists).
func (l *liveHits) render(counts map[int64]int64) (body []byte, ok bool) {
	n := 0
	for _, p := range l.parts {
		n += len(p)
	}
	b := make([]byte, 0, n+20*len(l.ids))
	for i, id := range l.ids {
		c, found := counts[id]
		if !found {
			return nil, false
		}
		b = append(b, l.parts[i]...)
		b = strconv.AppendInt(b, c, 10)
	}
	return append(b, l.parts[len(l.ids)]...), true
}
