package throttle_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"catalog-bff/store/throttle"
)

// Of many concurrent events within an interval, exactly one passes.
func TestOnePerInterval(t *testing.T) {
	var th throttle.Throttle
	var passed atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if th.Allow(time.Hour) {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := passed.Load(); n != 1 {
		t.Errorf("%d events passed within an hour, want 1", n)
	}
	if !th.Allow(0) {
		t.Error("an event after the interval did not pass")
	}
}
