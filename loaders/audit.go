package loaders

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
)

// Auditor measures how consistent the cache is, after Meta's Polaris: it
// samples a small fraction of cache hits, and a Bound later compares what
// the cache holds with the row's version in SQL. An entry still older than
// SQL then, and again a Bound after that, is counted stale: the cache
// failed to converge within Bound. Checked and Stale give the service's own
// "N nines consistent within Bound".
type Auditor struct {
	db    *sqlstore.DB
	cache *redisstore.Cache
	opt   AuditorOptions

	mu      sync.Mutex
	pending []sample
	checked atomic.Int64
	stale   atomic.Int64
}

// AuditorOptions tunes an Auditor. Zero fields take the defaults.
type AuditorOptions struct {
	Fraction float64       // of cache hits sampled; default 0.001
	Bound    time.Duration // convergence bound; default 2s
	MaxQueue int           // samples waiting at most; more are dropped; default 10,000
}

type sample struct {
	kind    store.Kind
	id      int64
	version int64 // the version the cache served, then the SQL version to reach
	due     time.Time
	suspect bool // found behind SQL once already
}

// NewAuditor returns an Auditor of cache against db.
func NewAuditor(db *sqlstore.DB, cache *redisstore.Cache, opt AuditorOptions) *Auditor {
	if opt.Fraction <= 0 {
		opt.Fraction = 0.001
	}
	if opt.Bound <= 0 {
		opt.Bound = 2 * time.Second
	}
	if opt.MaxQueue <= 0 {
		opt.MaxQueue = 10_000
	}
	return &Auditor{db: db, cache: cache, opt: opt}
}

// Sample offers one cache hit; the Auditor keeps a Fraction of them. It is
// cheap and safe for concurrent use.
func (a *Auditor) Sample(kind store.Kind, id, version int64) {
	if rand.Float64() >= a.opt.Fraction {
		return
	}
	a.enqueue(sample{kind: kind, id: id, version: version, due: time.Now().Add(a.opt.Bound)})
}

func (a *Auditor) enqueue(s sample) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) < a.opt.MaxQueue {
		a.pending = append(a.pending, s)
	}
}

// AuditStats are an Auditor's counts so far.
type AuditStats struct {
	Checked int64 // samples compared with SQL
	Stale   int64 // of those, entries still behind SQL after two bounds
}

// Stats returns the counts so far.
func (a *Auditor) Stats() AuditStats {
	return AuditStats{Checked: a.checked.Load(), Stale: a.stale.Load()}
}

// Run checks due samples every Bound/4 until ctx is done.
func (a *Auditor) Run(ctx context.Context) {
	t := time.NewTicker(a.opt.Bound / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			_ = a.Check(ctx, now) // a check that fails drops its samples; the next tick goes on
		}
	}
}

// Check compares the samples due at now with SQL: one statement and one
// cache read per kind. A sample that cannot be checked (a dependency is
// down) is dropped, not counted.
func (a *Auditor) Check(ctx context.Context, now time.Time) error {
	due := a.takeDue(now)
	byKind := map[store.Kind][]sample{}
	for _, s := range due {
		byKind[s.kind] = append(byKind[s.kind], s)
	}
	for kind, ss := range byKind {
		if err := a.check(ctx, kind, ss); err != nil {
			return err
		}
	}
	return nil
}

func (a *Auditor) takeDue(now time.Time) []sample {
	a.mu.Lock()
	defer a.mu.Unlock()
	var due []sample
	rest := a.pending[:0]
	for _, s := range a.pending {
		if now.Before(s.due) {
			rest = append(rest, s)
		} else {
			due = append(due, s)
		}
	}
	a.pending = rest
	return due
}

func (a *Auditor) check(ctx context.Context, kind store.Kind, ss []sample) error {
	ids := make([]int64, len(ss))
	for i, s := range ss {
		ids[i] = s.id
	}
	versions, err := a.db.Versions(ctx, kind, ids)
	if err != nil {
		return err
	}
	entries, err := a.cache.Get(ctx, kind, ids)
	if err != nil {
		return err
	}
	for i, s := range ss {
		e, sqlVersion, exists := entries[i], versions[s.id], versions[s.id] != 0
		behind := e.State == redisstore.Hit && (!exists || e.Version < sqlVersion)
		switch {
		case !behind:
			a.checked.Add(1)
		case s.suspect && (!exists || e.Version < s.version):
			a.checked.Add(1)
			a.stale.Add(1)
		case s.suspect:
			a.checked.Add(1) // behind a write newer than the one it missed: check that one later
		default: // a write may just be on its way: look again a bound later
			a.enqueue(sample{kind: kind, id: s.id, version: max(sqlVersion, 1), due: time.Now().Add(a.opt.Bound), suspect: true})
		}
	}
	return nil
}
