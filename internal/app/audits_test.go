package app

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// deliberateAudits are graphql-http audits this service answers otherwise
// than the audit prefers, on purpose, each with the reason.
var deliberateAudits = map[string]string{
	// "MAY use 4xx or 5xx status codes if parameters are invalid" and
	// "MAY use 400 status code if parameters are invalid", as
	// application/json: the draft's SHOULD is 200 for a request error in
	// application/json, which clients that accept */* (Apollo Client 3)
	// need to show the error; application/graphql-response+json gets 400.
	"8764": "200 for request errors as application/json",
	"3E3A": "200 for request errors as application/json",
}

// The GraphQL-over-HTTP audits of graphql-http (the reference
// implementation's conformance suite) against the service: every one ok,
// but those deliberateAudits lists.
func TestGraphQLOverHTTPAudits(t *testing.T) {
	dir := filepath.Join(repoRoot, ".ci", "graphql-http")
	runNPM(t, npmFor(t, "the GraphQL-over-HTTP audits"), dir, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	c := startChild(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL": "off", "DEMO_PRODUCTS": "5"})
	audit := exec.Command("node", "audit.mjs", c.base+"/query")
	audit.Dir = dir
	out, err := audit.Output()
	if err != nil {
		t.Fatalf("the audits: %v\n%s", err, out)
	}
	var results []struct{ ID, Name, Status, Reason string }
	if err := json.Unmarshal(out, &results); err != nil || len(results) == 0 {
		t.Fatalf("the audits' output: %v\n%s", err, out)
	}
	ok := 0
	for _, r := range results {
		switch {
		case r.Status == "ok":
			ok++
		case deliberateAudits[r.ID] != "":
			t.Logf("%s %s %q: deliberate (%s)", r.Status, r.ID, r.Name, deliberateAudits[r.ID])
		default:
			t.Errorf("%s %s %q: %s", r.Status, r.ID, r.Name, r.Reason)
		}
	}
	t.Logf("%d of %d audits ok", ok, len(results))
}
