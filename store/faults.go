package store

import "context"

// Faults are the named points at which tests make the service stall, fail
// or die: a write between its commit and its invalidation
// ("after-write-commit"), each step of a view flush ("after-read",
// "before-commit", "after-commit", "after-trim"), a cached batch between its
// SQL read and its write-back ("after-fetch", with the kind and ids it
// read). The service wires none: production reaches every point through a
// nil Faults, which At turns into nothing.
type Faults interface {
	// At is called as the process reaches point. It may block, to hold a
	// reader in a race window, or kill the process.
	At(ctx context.Context, point string, kind Kind, ids []int64)
}

// FaultFunc is a function as Faults.
type FaultFunc func(ctx context.Context, point string, kind Kind, ids []int64)

// At calls f.
func (f FaultFunc) At(ctx context.Context, point string, kind Kind, ids []int64) {
	f(ctx, point, kind, ids)
}

// At tells f that point was reached, unless f is nil.
func At(ctx context.Context, f Faults, point string, kind Kind, ids []int64) {
	if f != nil {
		f.At(ctx, point, kind, ids)
	}
}
