// Package throttle lets one event through per interval, for warnings that
// an outage would otherwise repeat on every request.
package throttle

import (
	"sync/atomic"
	"time"
)

// Throttle lets one event through per interval. The zero value lets the
// first event through. It is safe for concurrent use.
type Throttle struct{ last atomic.Int64 }

// Allow reports whether an event may pass now: whether every has passed
// since the last one that did.
func (t *Throttle) Allow(every time.Duration) bool {
	now := time.Now().UnixNano()
	last := t.last.Load()
	return now-last >= int64(every) && t.last.CompareAndSwap(last, now)
}
