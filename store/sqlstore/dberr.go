package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"catalog-bff/store"

	"github.com/jackc/pgx/v5/pgconn"
)

// unavailable wraps an error that means the database cannot be reached or
// did not answer in time as an Unavailable *Error, so that clients get
// UNAVAILABLE (try again) rather than INTERNAL. Other errors pass through.
// A caller's own cancellation is not the database's fault and passes
// through too.
func unavailable(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || !dbDown(err) {
		return err
	}
	return &store.Error{Code: store.Unavailable, Message: "the database is unavailable; try again", Err: err}
}

func dbDown(err error) bool {
	var ne net.Error
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &ne), errors.As(err, &ce), pgconn.Timeout(err):
		return true
	case errors.As(err, &pe):
		// 08: connection exceptions; 57: operator intervention (shutdown,
		// cannot connect now); 53: insufficient resources.
		return len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code[:2] == "57" || pe.Code[:2] == "53")
	}
	return false
}
