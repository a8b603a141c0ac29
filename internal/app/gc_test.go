package app

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"
)

// TestTuneGC: the service's GOGC applies unless the environment sets one.
func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		env  map[string]string
		want int
	}{
		{map[string]string{}, gcPercent},
		{map[string]string{"GOGC": "150"}, 100}, // the runtime read it at start; tuneGC leaves it
	} {
		debug.SetGCPercent(100)
		tuneGC(func(k string) string { return c.env[k] }, log)
		if got := debug.SetGCPercent(100); got != c.want {
			t.Errorf("env %v: GOGC %d, want %d", c.env, got, c.want)
		}
	}
}
