package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrPoolWait marks a Redis call that failed because it waited for one of
// the client's own connections: it gave up waiting, or the wait left it
// too little of its deadline to finish. The service had more Redis calls
// in flight than its pool holds, which says nothing about Redis, so the
// circuit breaker does not count it (see newBreaker). It wraps the call's
// own error, so that errors.Is(err, context.DeadlineExceeded) still holds.
var ErrPoolWait = errors.New("store: redis connection pool busy")

// poolGate is a go-redis hook that admits at most as many calls at once as
// the connection pool holds, so that a call which then runs never waits
// inside go-redis for a turn, and a call that timed out because it waited
// can be told apart from a Redis that does not answer.
//
// go-redis 9.23 cannot tell them apart by itself: a call whose context
// expires while it waits for a pool turn gets the bare ctx.Err()
// (internal/pool/pool.go waitTurn, FastSemaphore.Acquire), and so does a
// call whose context expires while a connection for it is being dialled
// (queuedNewConn), a Redis or network too slow to accept. And a call that
// gets its turn with a few milliseconds of its deadline left then fails
// with a socket "i/o timeout" (*net.OpError), exactly as on a hung Redis.
//
// So the gate measures the wait itself. A call fails with ErrPoolWait when
// its context ends while it waits for a turn, or when it waited and got
// its turn with less than half of budget (the client's REDIS_TIMEOUT) left,
// and then timed out. A call that got its turn at once, or after a short
// wait, still counts: on a hung Redis the calls holding the connections
// time out with their budget intact and open the breaker, whatever queues
// behind them.
//
// Commands sent on a new connection's handshake (HELLO, AUTH, …) pass
// freely: they run inside a call that already holds a turn. On a cluster
// the gate sits at the cluster client, sized to one node's pool: a
// pipeline that spans nodes holds one turn and at most one connection of
// each node's pool, so no node's pool is asked for more than it holds.
// A client used without the gate (Conn, PubSub) would take connections it
// does not count; this service uses neither.
type poolGate struct {
	turns  chan struct{}
	budget time.Duration // a call's usual deadline (REDIS_TIMEOUT)
}

var _ redis.Hook = (*poolGate)(nil)

// gate puts a poolGate sized to rdb's pool in front of every command rdb
// sends, and returns rdb.
func gate(rdb redis.UniversalClient, size int, budget time.Duration) redis.UniversalClient {
	rdb.AddHook(&poolGate{turns: make(chan struct{}, size), budget: budget})
	return rdb
}

// acquire takes a turn, waiting until ctx is done or, without a deadline,
// for twice the budget (go-redis's PoolTimeout here). starved reports that
// the wait left less than half the budget; the error wraps ErrPoolWait.
func (g *poolGate) acquire(ctx context.Context) (starved bool, err error) {
	select {
	case g.turns <- struct{}{}:
		return false, nil
	default:
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*g.budget)
		defer cancel()
	}
	select {
	case g.turns <- struct{}{}:
		deadline, _ := ctx.Deadline()
		return time.Until(deadline) < g.budget/2, nil
	case <-ctx.Done():
		return true, fmt.Errorf("%w: %w", ErrPoolWait, ctx.Err())
	}
}

func (g *poolGate) release() { <-g.turns }

// blame wraps a timeout of a starved call in ErrPoolWait.
func blame(starved bool, err error) error {
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
	if !starved || err == nil || errors.Is(err, ErrPoolWait) || !timeout {
		return err
	}
	return fmt.Errorf("%w: %w", ErrPoolWait, err)
}

// DialHook implements redis.Hook.
func (g *poolGate) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

// ProcessHook implements redis.Hook.
func (g *poolGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if Handshake([]redis.Cmder{cmd}) {
			return next(ctx, cmd)
		}
		starved, err := g.acquire(ctx)
		if err == nil {
			defer g.release()
			err = next(ctx, cmd)
		}
		if err = blame(starved, err); err != nil {
			cmd.SetErr(err)
		}
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (g *poolGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if Handshake(cmds) {
			return next(ctx, cmds)
		}
		starved, err := g.acquire(ctx)
		if err != nil { // nothing was sent
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
			return err
		}
		defer g.release()
		err = next(ctx, cmds)
		for _, cmd := range cmds {
			if e := cmd.Err(); e != nil {
				cmd.SetErr(blame(starved, e))
			}
		}
		return blame(starved, err)
	}
}
