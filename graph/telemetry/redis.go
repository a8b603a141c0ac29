package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"catalog-bff/store"
)

// InstrumentRedis adds to rdb the hook that feeds the Redis metrics and the
// requests' costs, and, when tracing is on, redisotel's span per command
// and pipeline (without their arguments, which hold whole documents). Call
// it before rdb is shared: go-redis hooks must not be added while commands
// run.
func (t *Telemetry) InstrumentRedis(rdb redis.UniversalClient) error {
	rdb.AddHook(redisHook{t.m})
	if !t.Tracing() {
		return nil
	}
	err := redisotel.InstrumentTracing(rdb, redisotel.WithTracerProvider(t.opt.Tracer),
		redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false))
	if err != nil {
		return fmt.Errorf("telemetry: trace redis: %w", err)
	}
	return nil
}

// redisHook times each round trip (a command alone, or a whole pipeline),
// counts its failures, and adds it to the request's cost. The handshake of
// a new connection is left out, as store.RedisCounter leaves it out.
type redisHook struct{ m *metrics }

var _ redis.Hook = redisHook{}

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if store.Handshake([]redis.Cmder{cmd}) {
			return next(ctx, cmd)
		}
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(ctx, cmd.Name(), start, err)
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if store.Handshake(cmds) {
			return next(ctx, cmds)
		}
		start := time.Now()
		err := next(ctx, cmds)
		h.observe(ctx, "pipeline", start, err)
		return err
	}
}

func (h redisHook) observe(ctx context.Context, command string, start time.Time, err error) {
	h.m.redisDuration.WithLabelValues(command).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, redis.Nil) {
		h.m.redisErrors.WithLabelValues(command).Inc()
	}
	if m := meterOf(ctx); m != nil {
		m.redis.Add(1)
	}
}
