package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"catalog-bff/store"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect is the SQL engine behind a DB.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is the catalogue's SQL storage. It is safe for concurrent use.
//
// Every statement it sends goes through one of its query helpers, which count
// it and tell the Observer set with SetObserver; Statements reports the count.
type DB struct {
	*pool
	timeout  time.Duration // of each statement
	outbox   bool          // writes queue their invalidations
	observer Observer      // nil: none
}

// pool is what every handle on one database shares (DB.Handle): its
// connections and its counts.
type pool struct {
	db         *sqlx.DB
	dialect    Dialect
	statements atomic.Int64
	updates    atomic.Int64 // the statements that are an UPDATE … SET
	// anyID is the dialect's "column is one of the ids in the single bound
	// argument" predicate, so that a batch query has one fixed text (and one
	// cached statement) whatever the batch size.
	anyID string
}

// Handle returns another handle on d's database. It shares d's
// connections and counts (Statements, Updates), and starts with d's
// settings, which are then its own: SetStatementTimeout, SetObserver and
// EnableOutbox on one handle leave the other as it is. Each service that
// shares a database (tests run two instances on one) sets up its own
// handle, so that none changes settings another is reading. Closing any
// handle closes the connections of all.
func (d *DB) Handle() *DB {
	h := *d
	return &h
}

// Open connects to the database named by rawURL: postgres://… (or
// postgresql://…) for PostgreSQL, sqlite:PATH for the embedded SQLite file.
// It checks the connection, so a database that cannot be reached is an error
// here, not at the first query. The error names the URL without its password.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	d, err := open(rawURL)
	if err != nil {
		return nil, err
	}
	if err := d.db.PingContext(ctx); err != nil {
		d.db.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", store.Redact(rawURL), err)
	}
	return d, nil
}

func open(rawURL string) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		// The driver name "pgx" is the one sqlx rebinds to $1 placeholders.
		db, err := sqlx.Open("pgx", rawURL)
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", store.Redact(rawURL), err)
		}
		keepIdle(db)
		return &DB{pool: &pool{db: db, dialect: Postgres, anyID: "= ANY(?)"}, timeout: defaultStatementTimeout}, nil
	case strings.HasPrefix(rawURL, "sqlite:"):
		db, err := sqlx.Open("sqlite", sqliteDSN(strings.TrimPrefix(rawURL, "sqlite:")))
		if err != nil {
			return nil, fmt.Errorf("store: open %s: %w", rawURL, err)
		}
		keepIdle(db)
		return &DB{pool: &pool{db: db, dialect: SQLite, anyID: "IN (SELECT value FROM json_each(?))"},
			timeout: defaultStatementTimeout}, nil
	default:
		return nil, fmt.Errorf("store: unsupported database URL %q: want postgres://… or sqlite:PATH", store.Redact(rawURL))
	}
}

// maxIdleConns is how many idle connections the pool keeps. database/sql
// keeps 2 by default: under concurrent load every other statement then
// opens a connection and closes it after use, which on PostgreSQL forks a
// backend each time (bench: 348 connections closed in 5 s of product pages
// falling back to SQL, and "database unavailable" from the dial timeouts).
// The number of open connections is bounded by SetMaxOpenConns alone
// (see DefaultMaxOpenConns).
const maxIdleConns = 32

// keepIdle sizes the pool's idle connections, and closes those unused for
// a minute so that a burst does not hold them for ever.
func keepIdle(db *sqlx.DB) {
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxIdleTime(time.Minute)
}

// SetMaxOpenConns bounds the connections open at once (0, the default, for
// no bound); callers beyond it wait for a connection, within their
// statement's timeout. A bound keeps a burst from taking all of a shared
// PostgreSQL's max_connections. Call it before first use.
func (d *DB) SetMaxOpenConns(n int) { d.db.SetMaxOpenConns(n) } // lowers the idle bound to n too

// sqliteDSN sets the per-connection pragmas in the DSN, where they apply to
// every pooled connection: WAL so readers never wait on the writer, a busy
// timeout, enforced foreign keys, and write transactions that take the write
// lock at BEGIN rather than failing with SQLITE_BUSY when they upgrade.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// defaultStatementTimeout bounds each statement unless SetStatementTimeout
// says otherwise.
const defaultStatementTimeout = 2 * time.Second

// SetStatementTimeout bounds each statement d sends, whatever the caller's
// deadline: a database that hangs fails the statement with Unavailable
// instead of holding the request. Call it before first use.
func (d *DB) SetStatementTimeout(t time.Duration) { d.timeout = t }

// Dialect reports which SQL engine d talks to.
func (d *DB) Dialect() Dialect { return d.dialect }

// Statements returns how many SQL statements have been sent through any
// handle on d's database since it was opened.
func (d *DB) Statements() int64 { return d.statements.Load() }

// Updates returns how many of those statements were an UPDATE … SET,
// with or without a leading WITH clause.
func (d *DB) Updates() int64 { return d.updates.Load() }

// SQL returns the underlying handle, for migrations and tests.
func (d *DB) SQL() *sql.DB { return d.db.DB }

// Close closes the connection pool.
func (d *DB) Close() error { return d.db.Close() }

// idsArg encodes ids as the single argument of the anyID predicate: an array
// for PostgreSQL, a JSON array for SQLite's json_each.
func (d *DB) idsArg(ids []int64) any {
	if d.dialect == Postgres {
		return ids
	}
	b, _ := json.Marshal(ids) // a []int64 always encodes
	return string(b)
}

// The query helpers below are the only way statements are sent: each counts
// its statement, bounds it by the statement timeout, tells the Observer,
// and reports a database that cannot be reached as Unavailable (see start).

// selectx runs a query that returns rows into dest, a pointer to a slice.
func (d *DB) selectx(ctx context.Context, q sqlx.QueryerContext, dest any, query string, args ...any) error {
	ctx, end := d.start(ctx, query)
	return end(sqlx.SelectContext(ctx, q, dest, d.db.Rebind(query), args...))
}

// get runs a query that returns one row into dest. No row is sql.ErrNoRows.
func (d *DB) get(ctx context.Context, q sqlx.QueryerContext, dest any, query string, args ...any) error {
	ctx, end := d.start(ctx, query)
	return end(sqlx.GetContext(ctx, q, dest, d.db.Rebind(query), args...))
}

// exec runs a statement that returns no rows.
func (d *DB) exec(ctx context.Context, e sqlx.ExecerContext, query string, args ...any) (sql.Result, error) {
	if updateStmt.MatchString(query) {
		d.updates.Add(1)
	}
	ctx, end := d.start(ctx, query)
	res, err := e.ExecContext(ctx, d.db.Rebind(query), args...)
	return res, end(err)
}

// updateStmt matches the statements that Updates counts.
var updateStmt = regexp.MustCompile(`(?is)\bUPDATE\s+\w+\s+SET\b`)

// isNoRows reports whether err means a query found no row.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// Ping checks that the database answers, within the statement timeout.
func (d *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return unavailable(d.db.PingContext(ctx))
}

// DefaultMaxOpenConns is the bound of open connections a service should
// set unless told otherwise (DB_MAX_CONNS): 4 per CPU, and at least 8. SQL
// waits on I/O, so a few connections per CPU keep the CPUs busy; more only
// queue inside PostgreSQL. Measured with the cache off, 32 product pages in
// flight on 2 CPUs (PostgreSQL on the same machine): 4 connections serve
// 851 pages a second, 8 serve 1,098, 16 serve 1,043, 32 serve 911. An
// unbounded pool instead lets a burst of such pages open more connections
// than PostgreSQL's max_connections (100 by default) allows, and fail as
// unavailable rather than wait their turn here.
func DefaultMaxOpenConns() int { return max(8, 4*runtime.GOMAXPROCS(0)) }
