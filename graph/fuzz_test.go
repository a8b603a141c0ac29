package graph_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
)

// FuzzQueryHandler sends arbitrary requests to the real handler, over a
// seeded database and Redis, and checks that it never panics, never answers
// 5xx or INTERNAL (its dependencies are healthy here, so an INTERNAL would
// be a client's input mistaken for a server fault), always answers JSON with
// a code on every error, and always sends a request id.
//
// Seeds: the hostile requests of TestHostileRequests and the README query.
// Run it with
//
//	go test ./graph -run '^$' -fuzz FuzzQueryHandler -fuzztime 30s
func FuzzQueryHandler(f *testing.F) {
	ts := newTestServer(f, sqlstore.SQLite, serverOptions{production: true, persisted: true, wait: time.Millisecond, products: 50})
	h := ts.handler
	for _, c := range hostileCases {
		req := c.req("http://fuzz.test/query")
		body := []byte(nil)
		if req.Body != nil {
			body, _ = io.ReadAll(req.Body)
		}
		f.Add(req.Method, req.Header.Get("Content-Type"), req.URL.RawQuery, body)
	}
	readme, _ := json.Marshal(map[string]string{"query": readmeQuery})
	f.Add("POST", "application/json", "", readme)
	f.Add("GET", "", "query=%7B+product%28id%3A+%221%22%29+%7B+id+name+%7D+%7D", []byte(nil))
	f.Fuzz(func(t *testing.T, method, contentType, rawQuery string, body []byte) {
		req, err := http.NewRequest(method, "http://fuzz.test/query?"+rawQuery, strings.NewReader(string(body)))
		if err != nil {
			return // not a request a client could send
		}
		if contentType != "" {
			req.Header["Content-Type"] = []string{contentType}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkReply(t, req, rec)
	})
}

func checkReply(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder) {
	if rec.Code >= 500 {
		t.Fatalf("%s: status %d: %.300s", req.Method, rec.Code, rec.Body.Bytes())
	}
	if rec.Header().Get("X-Request-ID") == "" {
		t.Fatal("no X-Request-ID")
	}
	if req.Method == http.MethodOptions {
		return // answered by the CORS layer or gqlgen, with no body
	}
	var r gqlResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("%s: status %d, not JSON: %.300s", req.Method, rec.Code, rec.Body.Bytes())
	}
	for _, code := range r.codes() {
		if code == "" || code == "INTERNAL" {
			t.Fatalf("%s: error code %q: %.300s", req.Method, code, rec.Body.Bytes())
		}
	}
}
