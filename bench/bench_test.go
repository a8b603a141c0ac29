package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Every scenario sends POSTs of a GraphQL request that names its
// operation, and mixed sends the admin token only with updateProduct.
func TestTargets(t *testing.T) {
	w := newWorkload("http://x/query", "tok", 100_000, 1000, 1)
	if len(w.hot) != 1000 {
		t.Fatalf("hot set of %d ids, want 1000", len(w.hot))
	}
	w.noteCategory(12)
	w.noteCursor(12, "abc")
	ops := map[string]int{}
	for _, s := range scenarios {
		tr, err := w.targeter(s)
		if err != nil {
			t.Fatal(err)
		}
		// 2,000 draws: with updates at 1 %, 400 would miss them all about
		// once in 55 runs.
		for range 2000 {
			var tgt vegeta.Target
			if err := tr(&tgt); err != nil {
				t.Fatal(err)
			}
			var req struct {
				Query     string         `json:"query"`
				Variables map[string]any `json:"variables"`
			}
			if tgt.Method != "POST" || json.Unmarshal(tgt.Body, &req) != nil {
				t.Fatalf("%s: %s %s", s, tgt.Method, tgt.Body)
			}
			op, _, _ := strings.Cut(strings.Fields(req.Query)[1], "(")
			ops[s+" "+op]++
			if admin := tgt.Header.Get("Authorization") == "Bearer tok"; admin != (op == "Update") {
				t.Errorf("%s: %s sent with admin token %v", s, op, admin)
			}
			if op == "Batch" && len(req.Variables["ids"].([]any)) != batchSize {
				t.Errorf("batch of %v", req.Variables["ids"])
			}
		}
	}
	for _, want := range []string{"detail Detail", "batch Batch", "listing Listing", "views View",
		"mixed Detail", "mixed Listing", "mixed View", "mixed Update"} {
		if ops[want] == 0 {
			t.Errorf("no %q request; got %v", want, ops)
		}
	}
	if d := ops["mixed Detail"]; d < 1720 || d > 1880 {
		t.Errorf("mixed: %d of 2,000 product pages, want about 90 %%", d)
	}
}

// Costs per request are the server's counters' difference divided by the
// requests it served in between.
func TestPerRequest(t *testing.T) {
	before := &serverCosts{SQLStatements: 10, RedisRoundTrips: 100, Requests: 5, CPUNs: 1e6,
		RedisCommands: map[string]int64{"mget": 50}}
	after := &serverCosts{SQLStatements: 12, RedisRoundTrips: 600, Requests: 105, CPUNs: 21e6,
		RedisCommands: map[string]int64{"mget": 450, "evalsha": 100}}
	c := perRequest(before, after)
	if c.SQLStatements != 0.02 || c.RedisRoundTrips != 5 || c.RedisCommands["mget"] != 4 ||
		c.RedisCommands["evalsha"] != 1 || c.CPUMicros != 200 || c.ServerRequests != 100 {
		t.Errorf("perRequest = %+v", c)
	}
	if perRequest(nil, after) != nil || perRequest(after, after) != nil {
		t.Error("no costs without two reads and a request between them")
	}
}

// The report replaces only what is between its markers.
func TestSplice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "B.md")
	if err := splice(path, "one\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte("intro\n"+string(b)+"\nhand-written notes\n"), 0o644)
	if err := splice(path, "two\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	s := string(b)
	if !strings.Contains(s, "intro\n") || !strings.Contains(s, "two\n") || strings.Contains(s, "one\n") ||
		!strings.Contains(s, "hand-written notes") {
		t.Errorf("after two splices:\n%s", s)
	}
}
