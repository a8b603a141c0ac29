package redisstore

import (
	"context"
	"fmt"
	"maps"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"catalog-bff/store"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

func init() {
	// go-redis logs pool and dial failures through its own logger on every
	// attempt; the cache reports Redis trouble itself, once, through slog.
	redis.SetLogger(quietLogger{})
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// RedisOptions tunes the Redis client for use as a cache: fail fast rather
// than wait, because SQL can always answer instead.
type RedisOptions struct {
	// Timeout bounds each socket read and write, and dialing. The cache also
	// gives each call a context deadline of this length.
	Timeout time.Duration
}

// poolSize is the Redis connection pool's size unless the URL sets
// pool_size. go-redis's default, 10 per CPU, is 20 on a 2-core machine,
// while a product page runs up to three Redis calls at once (seller,
// category, view count): at 32 pages in flight, callers queued for a
// connection (bench: 22,254 waits in 5 s), and a wait that outlasts the
// call's timeout counts against the circuit breaker as if Redis were down.
const poolSize = 128

// NewRedis returns a client for rawURL (redis://host:port/db, or
// rediss://…), or a cluster client for a redis+cluster:// URL (see
// IsClusterURL). It does not connect: the first command does.
//
// The go-redis defaults suit a primary store, not a cache: a 5 s read
// timeout that a context deadline does not cut short, and three retries.
// Here a context deadline bounds socket reads (ContextTimeoutEnabled), the
// read and write timeouts are short, and retries are off. A gate in front
// of the pool (poolGate) makes a call that gives up waiting for one of the
// client's connections fail with ErrPoolWait, which is not a Redis failure.
func NewRedis(rawURL string, opt RedisOptions) (redis.UniversalClient, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = 50 * time.Millisecond
	}
	if IsClusterURL(rawURL) {
		return newCluster(rawURL, opt)
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: redis url %s: %w", store.Redact(rawURL), err)
	}
	o.ContextTimeoutEnabled = true
	o.DialTimeout = 4 * opt.Timeout
	o.ReadTimeout = opt.Timeout
	o.WriteTimeout = opt.Timeout
	o.PoolTimeout = 2 * opt.Timeout
	if o.PoolSize == 0 { // not set by the URL's pool_size
		o.PoolSize = poolSize
	}
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return gate(redis.NewClient(o), o.PoolSize, opt.Timeout), nil
}

// RedisCounter is a go-redis hook that counts round trips (a command sent
// alone, or a whole pipeline) and commands by name. The handshake of a new
// connection is not counted. It is safe for concurrent
// use. Add it with client.AddHook, or Attach to count per node on a cluster.
//
// It is the service's one hook on its Redis client: the metrics and each
// request's cost (telemetry) are fed through OnRoundTrip, and /debug/costs
// reads Stats, so that every figure comes from the same count.
type RedisCounter struct {
	// OnRoundTrip, when set, is told of each round trip counted, once it
	// ended: its name (the command's, or "pipeline"), when it started, and
	// its error. Set it before the counter is added to a client.
	OnRoundTrip func(ctx context.Context, name string, start time.Time, err error)

	roundTrips atomic.Int64
	nodeTrips  atomic.Int64 // on a cluster, by the node hooks Attach adds
	cluster    atomic.Bool
	mu         sync.Mutex
	commands   map[string]int64
}

var _ redis.Hook = (*RedisCounter)(nil)

// RedisStats is a snapshot of a RedisCounter.
type RedisStats struct {
	RoundTrips int64
	// NodeRoundTrips counts exchanges with one Redis node. On a single
	// Redis it equals RoundTrips. On a cluster (with Attach), a pipeline
	// whose commands live on three masters is one round trip and three node
	// round trips, sent in parallel; a multi-key command that go-redis splits
	// per slot is one node round trip per slot.
	NodeRoundTrips int64
	Commands       map[string]int64 // by lower-case command name, e.g. "mget"
}

// Stats returns the counts so far.
func (c *RedisCounter) Stats() RedisStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := RedisStats{RoundTrips: c.roundTrips.Load(), NodeRoundTrips: c.roundTrips.Load(), Commands: maps.Clone(c.commands)}
	if c.cluster.Load() {
		s.NodeRoundTrips = c.nodeTrips.Load()
	}
	return s
}

// Sub returns the counts of s that happened after before.
func (s RedisStats) Sub(before RedisStats) RedisStats {
	d := RedisStats{RoundTrips: s.RoundTrips - before.RoundTrips,
		NodeRoundTrips: s.NodeRoundTrips - before.NodeRoundTrips, Commands: map[string]int64{}}
	for name, n := range s.Commands {
		if n -= before.Commands[name]; n != 0 {
			d.Commands[name] = n
		}
	}
	return d
}

// count counts a round trip of cmds, unless they are a connection's
// handshake, and reports whether it did.
func (c *RedisCounter) count(cmds ...redis.Cmder) bool {
	if Handshake(cmds) {
		return false
	}
	c.roundTrips.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.commands == nil {
		c.commands = map[string]int64{}
	}
	for _, cmd := range cmds {
		c.commands[strings.ToLower(cmd.Name())]++
	}
	return true
}

// Handshake reports whether cmds are the setup that go-redis sends on a new
// connection (HELLO, CLIENT SETINFO, SELECT, AUTH), which is not the cost
// of any request.
func Handshake(cmds []redis.Cmder) bool {
	for _, cmd := range cmds {
		switch cmd.Name() {
		case "hello", "client", "select", "auth":
		default:
			return false
		}
	}
	return len(cmds) > 0
}

// DialHook implements redis.Hook.
func (c *RedisCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

// ProcessHook implements redis.Hook.
func (c *RedisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !c.count(cmd) || c.OnRoundTrip == nil {
			return next(ctx, cmd)
		}
		start := time.Now()
		err := next(ctx, cmd)
		c.OnRoundTrip(ctx, cmd.Name(), start, err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (c *RedisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !c.count(cmds...) || c.OnRoundTrip == nil {
			return next(ctx, cmds)
		}
		start := time.Now()
		err := next(ctx, cmds)
		c.OnRoundTrip(ctx, "pipeline", start, err)
		return err
	}
}
