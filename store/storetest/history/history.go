// Package history runs a read-your-writes load against the service and
// checks the history it records: a read that starts after a write was
// acknowledged must return that write's value or a newer one. Tests of one
// instance and of several use it alike.
package history

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one operation of a history.
type Event struct {
	Client     int // the writer's or reader's number
	Product    int64
	Value      int64 // the value written, or read
	Start, End time.Time
}

// Load is a read-your-writes load: Writers goroutines write increasing
// values to Products, each product owned by one writer so that its writes
// are totally ordered, while Readers goroutines read random products.
type Load struct {
	Products         []int64
	Writers, Readers int
	For              time.Duration
	// Write writes value to product through writer w's choice of instance;
	// it is acknowledged when it returns nil.
	Write func(w int, product, value int64) error
	// Read returns product's value as reader r sees it.
	Read func(r int, product int64) (int64, error)
}

// Result is what a Load did.
type Result struct {
	Writes, Reads []Event
	Failures      int64    // writes and reads that returned an error
	Errors        []string // the first few of those errors
}

// Run runs the load for l.For and returns its history.
func (l Load) Run() Result {
	var (
		mu  sync.Mutex
		res Result
		wg  sync.WaitGroup
		bad atomic.Int64
	)
	stop := time.Now().Add(l.For)
	record := func(list *[]Event, e Event) {
		mu.Lock()
		defer mu.Unlock()
		*list = append(*list, e)
	}
	failed := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if bad.Add(1); len(res.Errors) < 5 {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	for w := range l.Writers {
		wg.Go(func() {
			var own []int64
			for i, p := range l.Products {
				if i%l.Writers == w {
					own = append(own, p)
				}
			}
			for v := int64(1_000_000); time.Now().Before(stop); v++ {
				p, start := own[rand.IntN(len(own))], time.Now()
				if err := l.Write(w, p, v); err != nil {
					failed(err)
					continue
				}
				record(&res.Writes, Event{w, p, v, start, time.Now()})
			}
		})
	}
	for r := range l.Readers {
		wg.Go(func() {
			for time.Now().Before(stop) {
				p, start := l.Products[rand.IntN(len(l.Products))], time.Now()
				v, err := l.Read(r, p)
				if err != nil {
					failed(err)
					continue
				}
				record(&res.Reads, Event{r, p, v, start, time.Now()})
			}
		})
	}
	wg.Wait()
	res.Failures = bad.Load()
	return res
}

// StaleReads counts the reads of r that returned a value older than a
// write acknowledged before the read started.
func (r Result) StaleReads() int { return len(r.Stale()) }

// StaleRead is a read that missed a write acknowledged before it started:
// the newest such write.
type StaleRead struct {
	Read, Missed Event
}

// Lag is how long after the missed write's acknowledgement the read
// started.
func (s StaleRead) Lag() time.Duration { return s.Read.Start.Sub(s.Missed.End) }

// Stale returns the stale reads of r.
func (r Result) Stale() []StaleRead {
	latest := map[int64][]Event{} // per product, in order of acknowledgement
	for _, w := range r.Writes {
		latest[w.Product] = append(latest[w.Product], w)
	}
	for _, ws := range latest {
		slices.SortFunc(ws, func(a, b Event) int { return a.End.Compare(b.End) })
	}
	var stale []StaleRead
	for _, rd := range r.Reads {
		var want Event
		for _, w := range latest[rd.Product] {
			if !w.End.Before(rd.Start) {
				break
			}
			if w.Value > want.Value {
				want = w
			}
		}
		if rd.Value < want.Value {
			stale = append(stale, StaleRead{Read: rd, Missed: want})
		}
	}
	return stale
}
