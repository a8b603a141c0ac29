package redisstore

// Exported for the tests of package store_test.

type ScriptCall = scriptCall

var EvalEach = evalEach

func NewScriptCall(keys []string, args ...any) ScriptCall { return scriptCall{keys: keys, args: args} }

// Queued returns how many requests wait in c's queue.
func Queued[Q, R any](c *Coalescer[Q, R]) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// ViewQueues returns how many reads and records wait in v's queues.
func ViewQueues(v *RedisViews) (reads, records int) { return Queued(v.reads), Queued(v.records) }

// RateLimitQueue returns how many Allow calls wait in l's queue.
func RateLimitQueue(l *RateLimiter) int { return Queued(l.calls) }

// APQQueue returns how many Get calls wait in p's queue.
func APQQueue(p *PersistedQueries) int { return Queued(p.gets) }

// RateLimitStats and APQStats return what their coalescers did.
func RateLimitStats(l *RateLimiter) CoalesceStats { return l.calls.Stats() }
func APQStats(p *PersistedQueries) CoalesceStats  { return p.gets.Stats() }

// TokenBucketSource is the rate limiter's script, for tests that load it.
var TokenBucketSource = tokenBucketSrc

// ViewReadScript and ViewRecordScript are the view counter's scripts, for
// the benchmark that runs them through go-redis's AutoPipeliner.
var (
	ViewReadScript   = readScript
	ViewRecordScript = recordScript
)
