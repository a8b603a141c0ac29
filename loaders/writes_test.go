package loaders_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"catalog-bff/loaders"
	"catalog-bff/store"
)

// sqlWrites answers every write with the invalidation of seller 1, or err.
type sqlWrites struct {
	loaders.WriteStore
	err error
}

func (s sqlWrites) UpdateSeller(context.Context, int64, store.SellerPatch) ([]store.Invalidation, error) {
	if s.err != nil {
		return nil, s.err
	}
	return []store.Invalidation{{Kind: "seller", ID: 1, Version: 2}}, nil
}

type invalidations struct {
	got []store.Invalidation
	err error
}

func (i *invalidations) Invalidate(_ context.Context, invs []store.Invalidation) error {
	i.got = append(i.got, invs...)
	return i.err
}

// A write that commits invalidates what it changed, after the commit point,
// and says whether the cache took it; one that fails invalidates nothing.
func TestWritesInvalidateWhatTheyChanged(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name          string
		sqlErr, cache error
		wantOK        bool
		wantInvs      int
		wantPoints    int
	}{
		{"committed, cache took it", nil, nil, true, 1, 1},
		{"committed, cache refused it", nil, errors.New("redis down"), false, 1, 1},
		{"not committed", errors.New("constraint"), nil, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := &invalidations{err: tc.cache}
			points := 0
			w := &loaders.Writes{SQL: sqlWrites{err: tc.sqlErr}, Cache: inv, Logger: log,
				Faults: store.FaultFunc(func(_ context.Context, p string, _ store.Kind, _ []int64) {
					if p == "after-write-commit" && len(inv.got) == 0 {
						points++
					}
				})}
			ok, err := w.UpdateSeller(context.Background(), 1, store.SellerPatch{})
			if !errors.Is(err, tc.sqlErr) || ok != tc.wantOK || len(inv.got) != tc.wantInvs || points != tc.wantPoints {
				t.Errorf("err %v, cacheOK %v, %d invalidations, %d commit points before them; want %v, %v, %d, %d",
					err, ok, len(inv.got), points, tc.sqlErr, tc.wantOK, tc.wantInvs, tc.wantPoints)
			}
		})
	}
}
