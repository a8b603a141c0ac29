package graph_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"catalog-bff/graph"
	"catalog-bff/store/sqlstore"
)

const (
	trustedDetail = `query Detail($id: ID!) { product(id: $id) { id name } }`
	trustedView   = `mutation View($id: ID!) { recordView(productId: $id) { hits } }`
	trustedHits   = `query Hits($id: ID!) { product(id: $id) { hits } }`
	untrusted     = `{ product(id: "3") { id name description } }`
)

// writeManifest writes GraphQL Code Generator's persisted documents for
// docs and returns the file's path.
func writeManifest(t *testing.T, path string, docs ...string) string {
	t.Helper()
	m := map[string]string{}
	for _, d := range docs {
		m[sha(d)] = d
	}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func trustedServer(t *testing.T, mode graph.TrustMode, docs ...string) (*testServer, *graph.TrustedDocuments, string) {
	t.Helper()
	path := writeManifest(t, filepath.Join(t.TempDir(), "persisted-documents.json"), docs...)
	td, err := graph.NewTrustedDocuments(mode, path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return newTestServer(t, sqlstore.SQLite, serverOptions{trusted: td, persisted: true}), td, path
}

// postBody sends body as a JSON POST.
func (ts *testServer) postBody(t *testing.T, body map[string]any) exchange {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", ts.url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return ts.do(t, req, nil)
}

// code returns the exchange's first error code, or "".
func (e exchange) code() string {
	var r gqlResponse
	if json.Unmarshal(e.body, &r) != nil || len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// With TRUSTED_DOCUMENTS=require, the manifest's operations run by
// documentId (with or without "sha256:"), by a persisted query's hash, over
// GET, or by their text; anything else is refused with a code before it
// costs a SQL statement or a Redis call.
func TestTrustedDocumentsRequire(t *testing.T) {
	ts, td, _ := trustedServer(t, graph.TrustRequire, trustedDetail, trustedView, trustedHits)
	if td.Len() != 3 {
		t.Fatalf("manifest holds %d documents, want 3", td.Len())
	}
	id := sha(trustedDetail)
	vars := map[string]any{"id": "7"}
	for _, tc := range []struct {
		name string
		send func() exchange
	}{
		{"documentId", func() exchange { return ts.postBody(t, map[string]any{"documentId": id, "variables": vars}) }},
		{"documentId with its prefix", func() exchange {
			return ts.postBody(t, map[string]any{"documentId": "sha256:" + id, "variables": vars})
		}},
		{"persisted query hash", func() exchange {
			return ts.postBody(t, map[string]any{"variables": vars,
				"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": id}}})
		}},
		{"GET documentId", func() exchange {
			return ts.getValues(t, url.Values{"documentId": {id}, "variables": {`{"id":"7"}`}})
		}},
		{"its text", func() exchange { return ts.post(t, trustedDetail, vars) }},
	} {
		var v struct{ Product struct{ ID, Name string } }
		tc.send().data(t, &v)
		if v.Product.ID != "7" || v.Product.Name == "" {
			t.Errorf("%s: product %+v, want product 7", tc.name, v.Product)
		}
	}
	for _, tc := range []struct {
		name, code string
		status     int
		send       func() exchange
	}{
		{"text not in the manifest", graph.CodeDocumentNotTrusted, 400, func() exchange { return ts.post(t, untrusted, nil) }},
		{"unknown documentId", graph.CodeDocumentNotFound, 400, func() exchange {
			return ts.postBody(t, map[string]any{"documentId": sha(untrusted)})
		}},
		{"unknown persisted query hash", graph.CodeDocumentNotTrusted, 400, func() exchange {
			return ts.postBody(t, map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha(untrusted)}}})
		}},
		{"documentId with another text", graph.CodeBadRequest, 400, func() exchange {
			return ts.postBody(t, map[string]any{"documentId": id, "query": untrusted})
		}},
	} {
		var e exchange
		c := ts.measure(t, func() { e = tc.send() })
		if e.status != tc.status || e.code() != tc.code || c.sql != 0 || c.redis.RoundTrips != 0 {
			t.Errorf("%s: %d %s with %d SQL and %d Redis round trips; want %d %s with none",
				tc.name, e.status, e.body, c.sql, c.redis.RoundTrips, tc.status, tc.code)
		}
	}
	// A trusted mutation still needs POST.
	before := ts.hitsOf(t, 7)
	e := ts.getValues(t, url.Values{"documentId": {sha(trustedView)}, "variables": {`{"id":"7"}`}})
	if e.status == http.StatusOK && e.code() == "" {
		t.Errorf("a mutation over GET by documentId ran: %d %s", e.status, e.body)
	}
	if after := ts.hitsOf(t, 7); after != before {
		t.Errorf("hits %d → %d after a refused GET of a mutation", before, after)
	}
}

// hitsOf reads a product's hits, by a trusted document's text.
func (ts *testServer) hitsOf(t *testing.T, id int) int {
	t.Helper()
	var v struct{ Product struct{ Hits int } }
	ts.post(t, trustedHits, map[string]any{"id": id}).data(t, &v)
	return v.Product.Hits
}

// With allow, the manifest's documents run by id, and any text runs.
func TestTrustedDocumentsAllow(t *testing.T) {
	ts, _, _ := trustedServer(t, graph.TrustAllow, trustedDetail)
	var v struct{ Product struct{ ID string } }
	ts.postBody(t, map[string]any{"documentId": sha(trustedDetail), "variables": map[string]any{"id": "4"}}).data(t, &v)
	if v.Product.ID != "4" {
		t.Fatalf("by id: product %q, want 4", v.Product.ID)
	}
	ts.post(t, untrusted, nil).data(t, &v)
	if v.Product.ID != "3" {
		t.Fatalf("by text: product %q, want 3", v.Product.ID)
	}
	if e := ts.postBody(t, map[string]any{"documentId": sha(untrusted)}); e.code() != graph.CodeDocumentNotFound {
		t.Fatalf("unknown documentId: %d %s", e.status, e.body)
	}
}

// A reload swaps the manifest while requests run by id, and none of them
// fails; a malformed manifest keeps the one in use.
func TestTrustedDocumentsReload(t *testing.T) {
	ts, td, path := trustedServer(t, graph.TrustRequire, trustedDetail)
	byID := func(doc string) exchange {
		return ts.postBody(t, map[string]any{"documentId": sha(doc), "variables": map[string]any{"id": "5"}})
	}
	if e := byID(untrusted); e.code() != graph.CodeDocumentNotFound {
		t.Fatalf("before the reload, the new document: %d %s", e.status, e.body)
	}
	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				e := byID(trustedDetail)
				sent.Add(1)
				if e.status != http.StatusOK || e.code() != "" {
					failed.Add(1)
				}
			}
		})
	}
	for range 20 {
		// Each swap lands while requests run: wait for a few more.
		n := sent.Load()
		waitFor(t, "more requests sent", func() bool { return sent.Load() >= n+3 })
		writeManifest(t, path, trustedDetail, untrusted)
		if err := td.Reload(); err != nil {
			t.Fatal(err)
		}
		writeManifest(t, path, trustedDetail)
		if err := td.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	writeManifest(t, path, trustedDetail, untrusted)
	if err := td.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"not": "a hash"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := td.Reload(); err == nil {
		t.Fatal("a malformed manifest reloaded")
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || sent.Load() < 60 {
		t.Fatalf("%d of %d requests failed across 41 reloads", failed.Load(), sent.Load())
	}
	t.Logf("%d requests across 41 reloads, none failed", sent.Load())
	if td.Len() != 2 {
		t.Fatalf("after a malformed manifest, %d documents in use, want the 2 of the last good one", td.Len())
	}
	if e := byID(untrusted); e.status != http.StatusOK || e.code() != "" {
		t.Fatalf("after the reloads, the new document: %d %s", e.status, e.body)
	}
}
