package sqlstore

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// Statement describes one SQL statement to an Observer.
type Statement struct {
	Dialect Dialect
	// Op names the statement by its verb and first table, such as
	// "SELECT products", "UPDATE products" or "INSERT view_batches": a few
	// dozen values in all, fit for a metric label or a span name.
	Op string
	// Query is the statement's text: placeholders, never values.
	Query string
}

// Observer is told of every statement a DB sends, for metrics and traces.
// It must be safe for concurrent use.
//
// StartStatement is called before the statement, with the context it is
// sent under; the statement then runs under the returned context. The
// returned function is called once the statement has finished, with its
// error: nil when it succeeded, and also when a query found no row.
type Observer interface {
	StartStatement(ctx context.Context, s Statement) (context.Context, func(err error))
}

// SetObserver makes d tell o of every statement it sends, background work
// (view flushes, invalidations) included. Call it before first use.
func (d *DB) SetObserver(o Observer) { d.observer = o }

type bulkKey struct{}

// bulk marks ctx as that of bulk work, such as seeding, whose statements
// carry thousands of rows: they run under timeout rather than the statement
// timeout meant for the request path.
func bulk(ctx context.Context, timeout time.Duration) context.Context {
	return context.WithValue(ctx, bulkKey{}, timeout)
}

// start counts a statement, bounds it by the statement timeout and tells
// the observer, if any. The statement runs under the returned context, and
// end must be called with its error; end returns that error as the helpers
// report it (see unavailable).
func (d *DB) start(ctx context.Context, query string) (context.Context, func(error) error) {
	d.statements.Add(1)
	timeout := d.timeout
	if bulk, ok := ctx.Value(bulkKey{}).(time.Duration); ok {
		timeout = bulk
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	observed := func(error) {}
	if d.observer != nil {
		ctx, observed = d.observer.StartStatement(ctx, Statement{Dialect: d.dialect, Op: statementOp(query), Query: query})
	}
	return ctx, func(err error) error {
		if isNoRows(err) {
			observed(nil)
		} else {
			observed(err)
		}
		cancel()
		return unavailable(err)
	}
}

// opPattern finds a statement's verb and first table, past a leading WITH
// clause: SELECT … FROM t, INSERT INTO t, UPDATE t, DELETE FROM t, LOCK
// TABLE t.
var opPattern = regexp.MustCompile(`(?is)^\s*(?:WITH\b.*?\)\s*)?(?:(SELECT)\b.*?\bFROM\s+(\w+)|(INSERT)\s+INTO\s+(\w+)|(UPDATE)\s+(\w+)|(DELETE)\s+FROM\s+(\w+)|(LOCK)\s+TABLE\s+(\w+))`)

// statementOp returns query's Statement.Op: "VERB table", or the first
// word alone when the pattern does not apply.
func statementOp(query string) string {
	m := opPattern.FindStringSubmatch(query)
	for i := 1; i+1 < len(m); i += 2 {
		if m[i] != "" {
			return strings.ToUpper(m[i]) + " " + strings.ToLower(m[i+1])
		}
	}
	if f := strings.Fields(query); len(f) > 0 {
		return strings.ToUpper(f[0])
	}
	return "EMPTY"
}
