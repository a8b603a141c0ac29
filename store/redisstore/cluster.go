package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"catalog-bff/store"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Redis Cluster. A cluster is named by a URL of the scheme redis+cluster
// (rediss+cluster for TLS) listing some of its nodes:
//
//	redis+cluster://[user:password@]host1:port,host2:port/[?option=value…]
//
// The nodes are seeds: the client learns every master and replica from the
// first that answers, and follows the cluster as slots move. Reads and
// writes go to the masters only (no READONLY replicas): a replica may lag
// behind an invalidation and serve the old document.
//
// Every multi-key operation here keeps its keys in one hash slot: a cache
// entry and its fill lease share the "{kind:id}" hash tag, and all the view
// counter's keys share "{views}". Batches that span documents (Cache.Get,
// Put, Invalidate, Lease) are pipelines of per-document commands, which
// go-redis groups per master and sends to all of them in parallel: one
// round trip in time, one exchange per master involved.

// clusterRedirects bounds how often a cluster command is sent again after
// MOVED, ASK or a network error: enough to follow a failover (a refused
// node, a retry elsewhere, then MOVED to the new master), while the call's
// deadline bounds the time it takes.
const clusterRedirects = 3

// IsClusterURL reports whether rawURL names a Redis Cluster.
func IsClusterURL(rawURL string) bool {
	return strings.HasPrefix(rawURL, "redis+cluster://") || strings.HasPrefix(rawURL, "rediss+cluster://")
}

// ClusterURL returns the URL of the cluster whose seed nodes are addrs, a
// comma-separated list of host:port (REDIS_CLUSTER_ADDRS).
func ClusterURL(addrs string) (string, error) {
	var hosts []string
	for a := range strings.SplitSeq(addrs, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if !strings.Contains(a, ":") || strings.ContainsAny(a, "/@?") {
			return "", fmt.Errorf("store: redis cluster address %q is not host:port", a)
		}
		hosts = append(hosts, a)
	}
	if len(hosts) == 0 {
		return "", errors.New("store: no redis cluster address")
	}
	return "redis+cluster://" + strings.Join(hosts, ",") + "/", nil
}

// parseClusterURL turns a redis+cluster URL into go-redis's cluster
// options, by way of ParseClusterURL's form (the first node as host, the
// others as addr parameters), so that its query options apply as well.
func parseClusterURL(rawURL string) (*redis.ClusterOptions, error) {
	scheme, rest, _ := strings.Cut(rawURL, "://")
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo := ""
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, authority = authority[:i+1], authority[i+1:]
	}
	hosts := strings.Split(authority, ",")
	path, query, _ := strings.Cut(tail, "?")
	if path != "" && path != "/" && path != "/0" {
		return nil, errors.New("a cluster has only database 0")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, err
	}
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	if hosts[0] == "" {
		return nil, errors.New("no node address")
	}
	return redis.ParseClusterURL(strings.TrimSuffix(scheme, "+cluster") + "://" + userinfo + hosts[0] + "/?" + q.Encode())
}

// newCluster is NewRedis for a cluster, with the same fail-fast options;
// MaxRedirects is the cluster client's own retry bound (clusterRedirects).
func newCluster(rawURL string, opt RedisOptions) (redis.UniversalClient, error) {
	o, err := parseClusterURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: redis url %s: %w", store.Redact(rawURL), err)
	}
	o.ContextTimeoutEnabled = true
	o.DialTimeout = 4 * opt.Timeout
	o.ReadTimeout = opt.Timeout
	o.WriteTimeout = opt.Timeout
	o.PoolTimeout = 2 * opt.Timeout
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.MaxRedirects = clusterRedirects
	if o.PoolSize == 0 { // not set by the URL's pool_size
		o.PoolSize = poolSize
	}
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return gate(redis.NewClusterClient(o), o.PoolSize, opt.Timeout), nil
}

// forEachMaster calls fn with rdb, or on a cluster with each master's own
// client, concurrently; it returns the first error.
func forEachMaster(ctx context.Context, rdb redis.UniversalClient, fn func(context.Context, redis.Cmdable) error) error {
	if c, ok := rdb.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return fn(ctx, node) })
	}
	return fn(ctx, rdb)
}

// DeleteKeys deletes every key matching the SCAN pattern and returns how
// many it deleted. On a cluster it scans every master. It is meant for
// tools and tests, not the request path.
func DeleteKeys(ctx context.Context, rdb redis.UniversalClient, pattern string) (int, error) {
	var n atomic.Int64
	err := forEachMaster(ctx, rdb, func(ctx context.Context, node redis.Cmdable) error {
		iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
		batch := make([]string, 0, 1000)
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == cap(batch) {
				if err := unlinkEach(ctx, node, batch, &n); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return unlinkEach(ctx, node, batch, &n)
	})
	return int(n.Load()), err
}

// unlinkEach deletes keys, one command each in one pipeline: the keys of a
// node's scan lie in many slots, which one multi-key command may not span.
func unlinkEach(ctx context.Context, node redis.Cmdable, keys []string, n *atomic.Int64) error {
	if len(keys) == 0 {
		return nil
	}
	cmds, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Unlink(ctx, k)
		}
		return nil
	})
	for _, cmd := range cmds {
		n.Add(cmd.(*redis.IntCmd).Val())
	}
	return err
}

// loadScripts loads scripts into rdb's script cache; on a cluster into
// every node's, replicas included, so that a replica promoted by a failover
// has them too.
func loadScripts(ctx context.Context, rdb redis.UniversalClient, scripts ...*redis.Script) error {
	load := func(ctx context.Context, c redis.Scripter) error {
		for _, s := range scripts {
			if err := s.Load(ctx, c).Err(); err != nil {
				return err
			}
		}
		return nil
	}
	if c, ok := rdb.(*redis.ClusterClient); ok {
		return c.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error { return load(ctx, node) })
	}
	return load(ctx, rdb)
}

// scriptCall is one run of a script: its keys, all in one slot, and args.
type scriptCall struct {
	keys []string
	args []any
}

// evalEach runs script once per call, in one pipeline (see the top of this
// file). A call whose node lacks the script (NOSCRIPT: a node restarted,
// added or promoted since LoadScripts) is sent again in full, with EVAL,
// which caches it there; a pipeline cannot fall back by itself. It returns
// each call's command, and the first error other than a nil reply.
func evalEach(ctx context.Context, rdb redis.UniversalClient, script *redis.Script, calls []scriptCall) ([]*redis.Cmd, error) {
	cmds := make([]*redis.Cmd, len(calls))
	_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error { // each command's error is read below
		for i, call := range calls {
			cmds[i] = script.EvalSha(ctx, p, call.keys, call.args...)
		}
		return nil
	})
	var missing []int
	for i, cmd := range cmds {
		if err := cmd.Err(); errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT") {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error { // each command's error is read below
			for _, i := range missing {
				cmds[i] = script.Eval(ctx, p, calls[i].keys, calls[i].args...)
			}
			return nil
		})
	}
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return cmds, err
		}
	}
	return cmds, nil
}

// getEach reads keys with one GET each, in one pipeline, and returns their
// values in order, nil for a missing key: on a cluster, MGET's replacement
// (see Cache.Get).
func getEach(ctx context.Context, rdb redis.UniversalClient, keys []string) ([]any, error) {
	cmds := make([]*redis.StringCmd, len(keys))
	_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error { // each command's error is read below
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	vals := make([]any, len(keys))
	for i, cmd := range cmds {
		switch v, err := cmd.Result(); {
		case err == nil:
			vals[i] = v
		case !errors.Is(err, redis.Nil):
			return nil, err
		}
	}
	return vals, nil
}

// Attach adds c to rdb as a hook. On a cluster it also counts node round
// trips (RedisStats.NodeRoundTrips), through a hook on each node client
// that go-redis creates from then on: attach before the first command.
func (c *RedisCounter) Attach(rdb redis.UniversalClient) {
	rdb.AddHook(c)
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		c.cluster.Store(true)
		cc.OnNewNode(func(node *redis.Client) { node.AddHook(nodeCounter{c}) })
	}
}

// nodeCounter counts a cluster's exchanges with one of its nodes: go-redis
// calls a node client's hooks once per command it sends alone and once per
// node's share of a pipeline. The handshake of a connection and the
// client's discovery of the cluster (CLUSTER SLOTS, COMMAND) are not the
// cost of any request and are not counted.
type nodeCounter struct{ c *RedisCounter }

func (n nodeCounter) count(cmds ...redis.Cmder) {
	if Handshake(cmds) {
		return
	}
	for _, cmd := range cmds {
		if name := cmd.Name(); name == "cluster" || name == "command" {
			return
		}
	}
	n.c.nodeTrips.Add(1)
}

// DialHook implements redis.Hook.
func (n nodeCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (n nodeCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		n.count(cmd)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (n nodeCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n.count(cmds...)
		return next(ctx, cmds)
	}
}
