package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"catalog-bff/store/redisstore"
)

// gqlResponse is a GraphQL response with its errors decoded.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// codes returns the extensions.code of each error.
func (r gqlResponse) codes() []string {
	var out []string
	for _, e := range r.Errors {
		c, _ := e.Extensions["code"].(string)
		out = append(out, c)
	}
	return out
}

// query posts a query and decodes the response; data, when non-nil, receives
// the "data" member.
func (ts *testServer) query(t *testing.T, q string, vars map[string]any, data any) gqlResponse {
	t.Helper()
	return ts.queryAs(t, "", q, vars, data)
}

// admin posts a query with the admin token.
func (ts *testServer) admin(t *testing.T, q string, vars map[string]any, data any) gqlResponse {
	t.Helper()
	return ts.queryAs(t, "Bearer "+adminToken, q, vars, data)
}

// queryAs posts a query with the given Authorization header, if any.
func (ts *testServer) queryAs(t *testing.T, auth, q string, vars map[string]any, data any) gqlResponse {
	t.Helper()
	headers := map[string]string{}
	if auth != "" {
		headers["Authorization"] = auth
	}
	return ts.queryAsWith(t, headers, q, vars, data)
}

// queryAsWith posts a query with the given headers.
func (ts *testServer) queryAsWith(t *testing.T, headers map[string]string, q string, vars map[string]any, data any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	req, _ := http.NewRequest("POST", ts.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r gqlResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("response %d is not JSON: %s", res.StatusCode, raw)
	}
	if data != nil && len(r.Data) > 0 && string(r.Data) != "null" {
		if err := json.Unmarshal(r.Data, data); err != nil {
			t.Fatalf("decode data: %v: %s", err, r.Data)
		}
	}
	return r
}

// mustQuery is query for a request that must not fail.
func (ts *testServer) mustQuery(t *testing.T, q string, vars map[string]any, data any) {
	t.Helper()
	if r := ts.query(t, q, vars, data); len(r.Errors) > 0 {
		t.Fatalf("query failed: %+v", r.Errors)
	}
}

// cost is what one request cost in SQL statements and Redis traffic.
type cost struct {
	sql   int64
	redis redisstore.RedisStats
}

func (ts *testServer) measure(t *testing.T, f func()) cost {
	t.Helper()
	sql0, r0 := ts.db.Statements(), ts.redis.Stats()
	f()
	return cost{sql: ts.db.Statements() - sql0, redis: ts.redis.Stats().Sub(r0)}
}
