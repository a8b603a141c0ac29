package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// ErrCacheUnavailable is returned, without any call to Redis, while the
// circuit breaker is open or reads are fenced (see Cache).
var ErrCacheUnavailable = errors.New("store: cache unavailable")

// BreakerOptions tunes the circuit breaker around Redis. Zero fields take
// the defaults.
type BreakerOptions struct {
	// Failures is how many consecutive failed calls open the breaker.
	// Default 3.
	Failures uint32
	// Window is how often the closed breaker forgets its counts, so that
	// failures spread over hours never add up. Default 10s.
	Window time.Duration
	// Cooldown is how long the breaker stays open before one probe call may
	// try Redis again. Default 1s.
	Cooldown time.Duration
	// OnChange, when set, is told of every state change ("closed",
	// "half-open", "open").
	OnChange func(state string)
}

func newBreaker(opt BreakerOptions, onOpen func()) *gobreaker.TwoStepCircuitBreaker[struct{}] {
	if opt.Failures == 0 {
		opt.Failures = 3
	}
	if opt.Window <= 0 {
		opt.Window = 10 * time.Second
	}
	if opt.Cooldown <= 0 {
		opt.Cooldown = time.Second
	}
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:     "redis",
		Interval: opt.Window,
		Timeout:  opt.Cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= opt.Failures
		},
		IsSuccessful: redisAnswered,
		IsExcluded: func(err error) bool {
			// The caller went away, or waited for one of the service's own
			// connections: neither says anything about Redis.
			return errors.Is(err, context.Canceled) || errors.Is(err, ErrPoolWait)
		},
		OnStateChange: func(_ string, _, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				onOpen()
			}
			if opt.OnChange != nil {
				opt.OnChange(to.String())
			}
		},
	})
}

// redisAnswered reports whether err still shows a live Redis: no error, a
// miss, or an error reply such as WRONGTYPE. Only timeouts and connection
// failures count against the breaker.
func redisAnswered(err error) bool {
	var reply redis.Error
	return err == nil || errors.Is(err, redis.Nil) || (errors.As(err, &reply) && !isTransient(err))
}

// isTransient reports server replies that mean "not now" rather than "this
// command is wrong": a loading or busy server behaves like an unreachable
// one.
func isTransient(err error) bool {
	s := err.Error()
	for _, p := range []string{"LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN"} {
		if len(s) >= len(p) && s[:len(p)] == p {
			return true
		}
	}
	return false
}

// guard runs f under the breaker. While the breaker is open it returns
// ErrCacheUnavailable at once.
func (c *Cache) guard(f func() error) error {
	done, err := c.breaker.Allow()
	if err != nil {
		return ErrCacheUnavailable
	}
	err = f()
	done(err)
	return err
}

// BreakerState returns "closed", "half-open" or "open".
func (c *Cache) BreakerState() string { return c.breaker.State().String() }
