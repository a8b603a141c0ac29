package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"testing"

	"catalog-bff/graph"
	"catalog-bff/store/sqlstore"
)

// GraphQL over HTTP: a request error (parse, validation, a limit) is 200
// as application/json and 400 as application/graphql-response+json, with
// the errors and no "data" member either way; an executed response with
// an error keeps its data.
func TestRequestErrorsOverHTTP(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{limits: graph.Limits{MaxAliases: 2}})
	send := func(query, accept string) (int, string, map[string]json.RawMessage) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"query": query})
		req, _ := http.NewRequest("POST", ts.url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var out map[string]json.RawMessage
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: %s", query, raw)
		}
		mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
		return res.StatusCode, mt, out
	}
	requestErrors := []string{
		`{ product(id: "1") { id `,                                          // parse
		`{ product(id: "1") { nme } }`,                                      // validation
		`{ a: product(id: "1") { b: seller { c: name d: name e: name } } }`, // over the alias limit
	}
	for _, q := range requestErrors {
		for _, c := range []struct {
			accept, contentType string
			status              int
		}{
			{"", "application/json", http.StatusOK},
			{"application/json", "application/json", http.StatusOK},
			{"*/*", "application/json", http.StatusOK},
			{"application/graphql-response+json", "application/graphql-response+json", http.StatusBadRequest},
			{"application/graphql-response+json, application/json;q=0.9", "application/graphql-response+json", http.StatusBadRequest},
		} {
			status, mt, body := send(q, c.accept)
			_, hasData := body["data"]
			if status != c.status || mt != c.contentType || hasData || len(body["errors"]) == 0 {
				t.Errorf("%s with Accept %q: %d %s, data present %v, errors %s; want %d %s, no data",
					q, c.accept, status, mt, hasData, body["errors"], c.status, c.contentType)
			}
		}
	}
	// Executed, with a field error: 200 and its data, in both types.
	for _, accept := range []string{"", "application/graphql-response+json"} {
		status, _, body := send(`{ product(id: "abc") { id } }`, accept)
		if status != http.StatusOK || len(body["data"]) == 0 || len(body["errors"]) == 0 {
			t.Errorf("a field error with Accept %q: %d %v", accept, status, body)
		}
	}
}
