package app

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// README's configuration table is the table of settings: a setting added,
// renamed or redocumented in config.go shows in README, or this test fails
// (UPDATE_README=1 go test -run TestREADMEConfigTable rewrites it).
func TestREADMEConfigTable(t *testing.T) {
	path := filepath.Join(repoRoot, "README.md")
	const begin, end = "<!-- settings: generated", "<!-- settings:end -->"
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q … %q section", begin, end)
	}
	i += strings.Index(s[i:], "\n") + 1
	want := configTable()
	if s[i:j] == want {
		return
	}
	if os.Getenv("UPDATE_README") != "" {
		if err := os.WriteFile(path, []byte(s[:i]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README's configuration table is not config.go's (UPDATE_README=1 go test -run TestREADMEConfigTable rewrites it); want:\n%s", want)
}

// Every setting has a variable, a doc and a parser; flags and variables
// are unique; defaults parse.
func TestSettingsTable(t *testing.T) {
	envs, flags := map[string]bool{}, map[string]bool{}
	for _, s := range settings {
		if s.env == "" || s.doc == "" || s.set == nil || envs[s.env] || (s.flag != "" && flags[s.flag]) {
			t.Errorf("setting %+v: missing a part, or a duplicate", s.env)
		}
		envs[s.env], flags[s.flag] = true, s.flag != ""
		if s.def != "" {
			var c Config
			if err := s.set(&c, s.def); err != nil {
				t.Errorf("%s: default %q does not parse: %v", s.env, s.def, err)
			}
		}
	}
}

// The command line as a user meets it: -h for the service and for seed,
// unknown commands, stray arguments and bad flags, each with its exit
// status (main: 0 for help, 2 for a usage error) and a message naming
// what to type.
func TestCommandLine(t *testing.T) {
	none := func(string) string { return "" }
	for _, tc := range []struct {
		name string
		args []string
		// usage: a UsageError (exit 2); help: flag.ErrHelp (exit 0).
		usage, help bool
		out, err    []string // what stderr and the error must say
		notOut      []string // what stderr must not say
	}{
		{name: "service help", args: []string{"-h"}, help: true,
			out: []string{"Commands:", "serve", "seed", "DATABASE_URL  -database-url", "REDIS_URL", "(default 8 per CPU)"}},
		{name: "serve help", args: []string{"serve", "-h"}, help: true, out: []string{"Commands:", "PORT  -port"}},
		{name: "seed help", args: []string{"seed", "-h"}, help: true,
			out: []string{"catalog-bff seed", "-products", "-reset", "-seed"}, notOut: []string{"-port", "-redis-url", "-database-url"}},
		{name: "unknown command", args: []string{"help"}, usage: true, err: []string{`unknown command "help"`, "serve, seed"}},
		{name: "stray argument", args: []string{"-port", "1", "extra"}, usage: true, err: []string{`unexpected argument "extra"`}},
		{name: "seed stray argument", args: []string{"seed", "100"}, usage: true, err: []string{`seed: unexpected argument "100"`}},
		{name: "unknown flag", args: []string{"-prot", "1"}, usage: true, err: []string{"-prot"}},
		{name: "bad flag value", args: []string{"-near-cache-size", "lots"}, usage: true, err: []string{"-near-cache-size", `"lots"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(t.Context(), tc.args, none, &out)
			var usage UsageError
			if errors.As(err, &usage) != tc.usage || errors.Is(err, flag.ErrHelp) != tc.help {
				t.Fatalf("err = %v (%T); want usage %v, help %v", err, err, tc.usage, tc.help)
			}
			for _, w := range tc.err {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, w := range tc.out {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output does not say %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.notOut {
				if strings.Contains(out.String(), w) {
					t.Errorf("output says %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// A bad value names the variable it came from; a flag overrides the
// environment.
func TestSettingsFromEnvironmentAndFlags(t *testing.T) {
	env := map[string]string{"NEAR_CACHE_SIZE": "12", "PORT": "9000", "LOADER_WAIT": "soon"}
	_, _, err := ParseConfig("t", nil, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "LOADER_WAIT: ") {
		t.Fatalf("err = %v, want one naming LOADER_WAIT", err)
	}
	delete(env, "LOADER_WAIT")
	c, _, err := ParseConfig("t", []string{"-near-cache-size", "34"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil || c.nearSize != 34 || c.port != "9000" {
		t.Fatalf("near cache %d, port %q, %v; want 34 (the flag) and 9000 (the environment)", c.nearSize, c.port, err)
	}
}

// A spill file the service could not write is refused at start, naming the
// setting, not found out at a stop with the database down.
func TestSpillFileCheckedAtStart(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"), "REDIS_URL": "off",
		"DEMO_PRODUCTS": "5", "VIEWS_SPILL_FILE": filepath.Join(t.TempDir(), "missing", "views.spill.json")}
	c, _, err := ParseConfig("catalog-bff", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	app := New(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer app.Close()
	err = app.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "VIEWS_SPILL_FILE") {
		t.Errorf("open with an unwritable spill file: %v, want an error naming VIEWS_SPILL_FILE", err)
	}
}
