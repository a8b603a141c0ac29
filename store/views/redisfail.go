package views

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store"
)

// How the request path's Redis calls are bounded, and what their failures
// mean for a view: not sent (count it in process) or maybe counted (say so).

// errNotSent marks a Redis failure where the command cannot have reached
// Redis: a refused or failed dial, a pool timeout, or no Redis at all.
var errNotSent = errors.New("views: redis not reached")

// redisError is a failed Redis call.
type redisError struct{ err error }

func (e *redisError) Error() string { return e.err.Error() }
func (e *redisError) Unwrap() error { return e.err }

func isRedisErr(err error) bool {
	var re *redisError
	return errors.Is(err, errNotSent) || errors.As(err, &re)
}

// bounded runs one Redis call of the request path with a context deadline
// of d, and returns by 2d whether or not the call has. go-redis cuts a
// socket read at the context's deadline only with ContextTimeoutEnabled
// (as redisstore.NewRedis sets it); a client without it would hold the request
// until a late reply comes, or its own read timeout (5 s by default), so
// past the deadline and as long again, for a client that honours it to
// return, the call is abandoned: it ends in the background, as the client
// lets it, and its result is dropped.
func bounded[T any](ctx context.Context, d time.Duration, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := call(ctx)
		done <- result{v, err}
	}()
	abandon := time.NewTimer(2 * d)
	defer abandon.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-abandon.C:
		select {
		case r := <-done: // answered as it was being abandoned
			return r.v, r.err
		default:
		}
		var zero T
		return zero, fmt.Errorf("views: redis did not answer within %v: %w", 2*d, context.DeadlineExceeded)
	}
}

// markDown stops the request path from using Redis until a flush's read of
// the log answers in time again; it logs the change, once.
func (c *Counter) markDown(err error) {
	if !c.down.Swap(true) {
		c.opt.Logger.Warn("view counter: Redis failed or was slow; counting views in process until it answers", "err", err)
	}
}

// isOOM reports whether err is Redis refusing a script because it is full
// (noeviction): Redis checks memory at the script's first write, so a script
// refused so wrote nothing.
func isOOM(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "OOM ")
}

// redisFailed stops the request path from using Redis until a flush's
// read of the log answers within Options.Timeout again, and classifies err:
// errNotSent when the command cannot have reached Redis or was refused
// whole (a full Redis), else an
// Unavailable error wrapping ErrUnknown. A call that failed because the
// caller gave up (ctx done) says nothing about Redis and stops nothing.
func (c *Counter) redisFailed(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		c.markDown(err)
	}
	var op *net.OpError
	if (errors.As(err, &op) && op.Op == "dial") || errors.Is(err, redis.ErrPoolTimeout) || isOOM(err) {
		return &redisError{err: errors.Join(errNotSent, err)}
	}
	return &redisError{err: &store.Error{Code: store.Unavailable,
		Message: "the view may not have been counted; the view counter did not answer",
		Err:     errors.Join(ErrUnknown, err)}}
}
