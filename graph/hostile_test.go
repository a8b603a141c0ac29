package graph_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"catalog-bff/graph"
	"catalog-bff/store/sqlstore"
)

// reply is a raw HTTP response with its GraphQL errors decoded.
type reply struct {
	status int
	header http.Header
	raw    []byte
	gqlResponse
}

// send does req against ts and decodes the reply, which must be JSON.
func (ts *testServer) send(t testing.TB, req *http.Request) reply {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	r := reply{status: res.StatusCode, header: res.Header}
	r.raw, _ = io.ReadAll(res.Body)
	if err := json.Unmarshal(r.raw, &r.gqlResponse); err != nil && res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("reply %d is not JSON: %.300s", res.StatusCode, r.raw)
	}
	return r
}

// marker is put in hostile bodies; no reply may echo it.
const marker = "HOSTILE-MARKER"

// hostileRequest builds one hostile request for a server's base URL.
type hostileRequest func(base string) *http.Request

func postBody(contentType, body string, headers ...string) hostileRequest {
	return func(base string) *http.Request {
		req, _ := http.NewRequest("POST", base, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		return req
	}
}

func postJSON(v any, headers ...string) hostileRequest {
	b, _ := json.Marshal(v)
	return postBody("application/json", string(b), headers...)
}

func postQuery(q string) hostileRequest { return postJSON(map[string]any{"query": q}) }

func getQuery(params url.Values) hostileRequest {
	return func(base string) *http.Request {
		req, _ := http.NewRequest("GET", base+"?"+params.Encode(), nil)
		return req
	}
}

func getRaw(rawQuery string) hostileRequest {
	return func(base string) *http.Request {
		req, _ := http.NewRequest("GET", base+"?"+rawQuery, nil)
		return req
	}
}

func withHeader(h hostileRequest, key, value string) hostileRequest {
	return func(base string) *http.Request {
		req := h(base)
		req.Header.Set(key, value)
		return req
	}
}

func multipartBody() hostileRequest {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	_ = w.WriteField("operations", `{"query":"mutation { deleteProduct(id: \"3\") }"}`) // into memory
	_ = w.WriteField("map", `{}`)
	w.Close()
	return postBody(w.FormDataContentType(), b.String())
}

// nested returns `category(id: "9") { parent { parent { … { id } } } }`
// with n levels of parent.
func nested(n int) string {
	return `{ category(id: "9") { ` + strings.Repeat("parent { ", n) + "id" + strings.Repeat(" }", n) + " } }"
}

// aliases returns one operation with n aliased product fields.
func aliases(n int) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i := range n {
		fmt.Fprintf(&b, `p%d: product(id: "%d") { id } `, i, i+1)
	}
	return b.String() + "}"
}

// fragmentBomb returns a query whose fragments each spread the next one
// twice: n fragments expand to 2^n fields.
func fragmentBomb(n int) string {
	var b strings.Builder
	b.WriteString("{ ...f0 }\n")
	for i := range n {
		fmt.Fprintf(&b, "fragment f%d on Query { ...f%d ...f%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, `fragment f%d on Query { product(id: "1") { id } }`, n)
	return b.String()
}

func idList(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	return ids
}

func sha(q string) string {
	h := sha256.Sum256([]byte(q))
	return hex.EncodeToString(h[:])
}

func apq(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

// hostileCases are requests a client can send to hurt the service. Each is
// refused with its code and status, before anything runs.
var hostileCases = []struct {
	name   string
	req    hostileRequest
	code   string
	status int
	redis  int64  // Redis round trips the refusal may cost: APQ's own lookup
	absent string // text the reply must not contain, besides marker
}{
	{"deep nesting through Category.parent", postQuery(nested(12)), graph.CodeQueryTooDeep, 200, 0, ""},
	{"deep nesting through fragments", postQuery(`{ category(id: "9") { ...a } }
		fragment a on Category { parent { ...b } } fragment b on Category { parent { ...c } }
		fragment c on Category { parent { parent { parent { parent { parent { parent { parent { parent { id } } } } } } } } }`),
		graph.CodeQueryTooDeep, 200, 0, ""},
	{"alias flood", postQuery(aliases(31)), graph.CodeTooManyAliases, 200, 0, ""},
	{"alias flood through a fragment spread four times", postQuery(`{ a: category(id: "1") { ...f } b: category(id: "2") { ...f }
		c: category(id: "3") { ...f } d: category(id: "4") { ...f } }
		fragment f on Category { a1: id a2: id a3: id a4: id a5: id a6: id a7: id }`),
		graph.CodeTooManyAliases, 200, 0, ""},
	{"fragment bomb: 2^40 fields", postQuery(fragmentBomb(40)), graph.CodeComplexity, 200, 0, ""},
	{"directive flood", postQuery(`{ product(id: "1") ` + strings.Repeat("@include(if: true) ", 300) + `{ id } }`),
		"GRAPHQL_VALIDATION_FAILED", 200, 0, ""},
	{"fragment cycle", postQuery(`{ category(id: "9") { ...a } }
		fragment a on Category { parent { ...b } } fragment b on Category { parent { ...a } }`),
		"GRAPHQL_VALIDATION_FAILED", 200, 0, ""},
	{"3,000 ids inline", postQuery(`{ products(ids: ["` + strings.Join(idList(3000), `","`) + `"]) { id name } }`),
		graph.CodeComplexity, 200, 0, ""},
	{"5,000 ids in variables", postJSON(map[string]any{"query": `query($ids: [ID!]!) { products(ids: $ids) { id name } }`,
		"variables": map[string]any{"ids": idList(5000)}}), graph.CodeComplexity, 200, 0, ""},
	{"first: 100000", postQuery(`{ categoryProducts(categoryId: "9", first: 100000) { edges { node { id } } } }`),
		graph.CodeComplexity, 200, 0, ""},
	{"token flood", postQuery(`{ product(id: "1") { ` + strings.Repeat("id ", 6000) + `} }`), graph.CodeTooManyTokens, 200, 0, ""},
	{"introspection in production", postQuery(`{ __schema { types { name } } }`), graph.CodeIntrospectionDisabled, 200, 0, ""},
	{"__type hidden in a fragment", postQuery(`{ ...f } fragment f on Query { __type(name: "Product") { fields { name } } }`),
		graph.CodeIntrospectionDisabled, 200, 0, ""},
	{"mutation over GET", getQuery(url.Values{"query": {`mutation { deleteProduct(id: "3") }`}}), graph.CodeMethodNotAllowed, 405, 0, ""},
	{"mutation over GET picked by operationName", getQuery(url.Values{
		"query": {`query Q { product(id: "1") { id } } mutation M { deleteProduct(id: "3") }`}, "operationName": {"M"}}),
		graph.CodeMethodNotAllowed, 405, 0, ""},
	{"mutation over GET with the admin token", withHeader(getQuery(url.Values{"query": {`mutation { setStock(productId: "3", stock: 0) { id } }`}}),
		"Authorization", "Bearer "+adminToken), graph.CodeMethodNotAllowed, 405, 0, ""},
	{"mutation as a form post", postBody("application/x-www-form-urlencoded",
		url.Values{"query": {`mutation { deleteProduct(id: "3") }`}}.Encode()), graph.CodeUnsupportedMediaType, 415, 0, ""},
	{"mutation as multipart", multipartBody(), graph.CodeUnsupportedMediaType, 415, 0, ""},
	{"mutation as multipart with the admin token", withHeader(multipartBody(), "Authorization", "Bearer "+adminToken),
		graph.CodeUnsupportedMediaType, 415, 0, ""},
	{"mutation as text/plain", postBody("text/plain", `{"query":"mutation { deleteProduct(id: \"3\") }"}`),
		graph.CodeUnsupportedMediaType, 415, 0, ""},
	{"no content type", postBody("", `{"query":"{ product(id: \"1\") { id } }"}`), graph.CodeUnsupportedMediaType, 415, 0, ""},
	{"PUT", func(base string) *http.Request {
		r := postQuery(`{ product(id: "1") { id } }`)(base)
		r.Method = "PUT"
		return r
	},
		graph.CodeMethodNotAllowed, 405, 0, ""},
	{"body over the limit", postJSON(map[string]any{"query": "{ product(id: \"1\") { id } }", "x": strings.Repeat(marker, 6000)}),
		graph.CodeBodyTooLarge, 413, 0, ""},
	{"malformed JSON", postBody("application/json", `{"query": "{ product(id: \"1\") { id } }", `+marker), graph.CodeBadRequest, 400, 0, ""},
	{"JSON-array batch", postBody("application/json", ` [{"query":"{ product(id: \"1\") { id } }"},{"query":"mutation { deleteProduct(id: \"3\") }"}]`),
		graph.CodeBatchNotSupported, 400, 0, ""},
	{"body is a JSON string", postBody("application/json", `"`+marker+`"`), graph.CodeBadRequest, 400, 0, ""},
	{"query is a number", postBody("application/json", `{"query": 123456789123456789}`), graph.CodeBadRequest, 400, 0, "123456789"},
	{"two JSON values", postBody("application/json", `{"query":"{ product(id: \"1\") { id } }"} {"query":"`+marker+`"}`),
		graph.CodeBadRequest, 400, 0, ""},
	{"empty body", postBody("application/json", ""), graph.CodeBadRequest, 400, 0, ""},
	{"a stray brace after the object", postBody("application/json", `{"query":"{ product(id: \"1\") { id } }"}}`),
		graph.CodeBadRequest, 400, 0, ""},
	{"a second query key hiding a mutation", postBody("application/json",
		`{"query":"{ product(id: \"1\") { id } }","query":"mutation { deleteProduct(id: \"3\") }"}`, "Authorization", "Bearer "+adminToken),
		graph.CodeBadRequest, 400, 0, ""},
	{"a second query key, escaped", postBody("application/json",
		`{"query":"{ product(id: \"1\") { id } }","\u0071uery":"mutation { deleteProduct(id: \"3\") }"}`, "Authorization", "Bearer "+adminToken),
		graph.CodeBadRequest, 400, 0, ""},
	{"a variable given twice", postBody("application/json",
		`{"query":"query($id: ID!) { product(id: $id) { id } }","variables":{"x":[{"id":"1"}],"id":"1","id":"2"}}`),
		graph.CodeBadRequest, 400, 0, ""},
	{"GET query given twice", getRaw("query=%7B%20product(id%3A%20%221%22)%20%7B%20id%20%7D%20%7D&query=%7B%20product(id%3A%20%222%22)%20%7B%20id%20%7D%20%7D"),
		graph.CodeBadRequest, 400, 0, ""},
	{"GET variables with a key twice", getQuery(url.Values{"query": {`query($id: ID!) { product(id: $id) { id } }`},
		"variables": {`{"id":"1","id":"2"}`}}), graph.CodeBadRequest, 400, 0, ""},
	{"variables nested 20,000 deep", postBody("application/json", `{"query":"{ product(id: \"1\") { id } }","variables":{"a":`+
		strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}}`), graph.CodeBadRequest, 400, 0, ""},
	{"variables of the wrong type", postJSON(map[string]any{"query": `query($id: ID!) { product(id: $id) { id } }`,
		"variables": map[string]any{"id": map[string]any{"x": marker}}}), "GRAPHQL_VALIDATION_FAILED", 200, 0, ""},
	{"two anonymous operations", postQuery(`{ product(id: "1") { id } } { product(id: "2") { id } }`), "GRAPHQL_VALIDATION_FAILED", 200, 0, ""},
	{"parse error", postQuery(`{ product(id: "1") { id `), "GRAPHQL_PARSE_FAILED", 200, 0, ""},
	{"unknown field in production", postQuery(`{ product(id: "1") { nme } }`), "GRAPHQL_VALIDATION_FAILED", 200, 0, "Did you mean"},
	{"unknown argument in production", postQuery(`{ product(idd: "1") { id } }`), "GRAPHQL_VALIDATION_FAILED", 200, 0, "Did you mean"},
	{"unknown type in production", postQuery(`{ ...f } fragment f on Prodct { id }`), "GRAPHQL_VALIDATION_FAILED", 200, 0, "Did you mean"},
	{"very long string", postQuery(`{ product(id: "` + strings.Repeat("9", 60000) + `") { id } }`), "BAD_USER_INPUT", 200, 0, strings.Repeat("9", 100)},
	{"invalid UTF-8 in the body", postBody("application/json", "{\"query\":\"{ product(id: \\\"\xff\xfe\\\") { id } }\"}"),
		graph.CodeBadRequest, 400, 0, ""},
	{"invalid UTF-8 in a GET", getRaw("query=%7B%20product(id%3A%20%22%FF%22)%20%7B%20id%20%7D%20%7D"), graph.CodeBadRequest, 400, 0, ""},
	// Past MAX_HEADER_BYTES (16 KiB), below MAX_BODY_BYTES: net/http
	// refuses the request line with a plain 431 before any handler runs,
	// so the handler's own 414 (limits_test.go) is not reached.
	{"GET query string over the header limit", getQuery(url.Values{"query": {`{ product(id: "1") { id } }`}, "x": {strings.Repeat("a", 70000)}}),
		"", 431, 0, ""},
	{"GET variables not JSON", getQuery(url.Values{"query": {`{ product(id: "1") { id } }`}, "variables": {"{" + marker}}),
		graph.CodeBadRequest, 400, 0, ""},
	{"SQL-looking id", postQuery(`{ product(id: "1; DROP TABLE products") { id } }`), "BAD_USER_INPUT", 200, 0, ""},
	{"SQL-looking ids in variables", postJSON(map[string]any{"query": `query($ids: [ID!]!) { products(ids: $ids) { id } }`,
		"variables": map[string]any{"ids": []string{"1", "1) OR 1=1 --"}}}), "BAD_USER_INPUT", 200, 0, ""},
	{"APQ hash that is not hex", postJSON(map[string]any{"extensions": apq("../../" + marker)}),
		graph.CodePersistedQueryInvalid, 200, 0, ""},
	{"APQ hash that is not the query's", postJSON(map[string]any{"query": `{ product(id: "1") { id } }`, "extensions": apq(sha("other"))}),
		graph.CodePersistedQueryInvalid, 200, 0, ""},
	{"APQ hash never stored", postJSON(map[string]any{"extensions": apq(sha("{ never }"))}), "PERSISTED_QUERY_NOT_FOUND", 200, 1, ""},
	{"APQ version 2", postJSON(map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 2, "sha256Hash": sha("x")}}}),
		graph.CodePersistedQueryInvalid, 200, 0, ""},
	{"setStock twice under aliases", postJSON(map[string]any{"query": `mutation { a: setStock(productId: "3", stock: 1) { id }
		b: setStock(productId: "3", stock: 2) { id } }`}, "Authorization", "Bearer "+adminToken), graph.CodeFieldRepeated, 200, 0, ""},
	{"100 aliased recordViews", postJSON(map[string]any{"query": "mutation { " + aliasedViews(100) + " }"}),
		graph.CodeTooManyAliases, 200, 0, ""},
	{"20 aliased recordViews", postJSON(map[string]any{"query": "mutation { " + aliasedViews(20) + " }"}),
		graph.CodeFieldRepeated, 200, 0, ""},
	{"setStock twice through fragments", postJSON(map[string]any{"query": `mutation { ...a ...b }
		fragment a on Mutation { setStock(productId: "3", stock: 1) { id } } fragment b on Mutation { x: setStock(productId: "4", stock: 1) { id } }`},
		"Authorization", "Bearer "+adminToken), graph.CodeFieldRepeated, 200, 0, ""},
}

// Every hostile request is refused with its code and status, and runs no
// SQL, sends no Redis command (but APQ's lookup where that is the point),
// changes nothing, and echoes nothing it was sent.
func TestHostileRequests(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{production: true, persisted: true,
		limits: graph.Limits{OncePerOperation: []string{"Mutation.recordView", "Mutation.setStock"}}})
	ts.mustQuery(t, `{ products(ids: ["3", "4"]) { id seller { id } category { id } } }`, nil, nil)
	snap, redisSnap := sqlSnapshot(t, ts.db), ts.redisSnapshot(t)
	for _, c := range hostileCases {
		t.Run(c.name, func(t *testing.T) {
			var r reply
			cost := ts.measure(t, func() { r = ts.send(t, c.req(ts.url)) })
			if c.status == http.StatusRequestHeaderFieldsTooLarge { // net/http's, not JSON
				if r.status != c.status || cost.sql != 0 || cost.redis.RoundTrips != 0 {
					t.Errorf("status %d, %d SQL statements, %d Redis round trips; want 431, 0, 0", r.status, cost.sql, cost.redis.RoundTrips)
				}
				return
			}
			if codes := r.codes(); len(codes) == 0 || codes[0] != c.code {
				t.Errorf("codes %v, want %s: %.300s", codes, c.code, r.raw)
			}
			if r.status != c.status {
				t.Errorf("status %d, want %d: %.300s", r.status, c.status, r.raw)
			}
			if cost.sql != 0 || cost.redis.RoundTrips != c.redis {
				t.Errorf("%d SQL statements and %d Redis round trips %v, want 0 and %d", cost.sql, cost.redis.RoundTrips, cost.redis.Commands, c.redis)
			}
			if bytes.Contains(r.raw, []byte(marker)) || c.absent != "" && bytes.Contains(r.raw, []byte(c.absent)) {
				t.Errorf("the reply echoes the request: %.300s", r.raw)
			}
			if len(r.Errors) > 20 {
				t.Errorf("%d errors, want at most 20", len(r.Errors))
			}
			if r.header.Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID in the reply")
			}
		})
	}
	if sqlSnapshot(t, ts.db) != snap || ts.redisSnapshot(t) != redisSnap {
		t.Error("hostile requests changed the database or the cache")
	}
}

// A GET query string past MAX_BODY_BYTES is the handler's 414, with its
// code, where MAX_HEADER_BYTES lets it through to the handler.
func TestGETQueryStringOverTheBodyLimit(t *testing.T) {
	ts := newTestServer(t, sqlstore.SQLite, serverOptions{settings: map[string]string{"MAX_HEADER_BYTES": "131072"}})
	var r reply
	req := getQuery(url.Values{"query": {`{ product(id: "1") { id } }`}, "x": {strings.Repeat("a", 70000)}})(ts.url)
	cost := ts.measure(t, func() { r = ts.send(t, req) })
	if codes := r.codes(); r.status != 414 || len(codes) != 1 || codes[0] != graph.CodeURITooLong || cost.sql != 0 || cost.redis.RoundTrips != 0 {
		t.Errorf("status %d, codes %v, %d SQL statements, %d Redis round trips; want 414, %s, 0, 0",
			r.status, codes, cost.sql, cost.redis.RoundTrips, graph.CodeURITooLong)
	}
}

// aliasedViews is n recordView selections of product 3 under aliases, the
// way a bot would try to count n views in one request.
func aliasedViews(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "v%d: recordView(productId: \"3\") { id } ", i)
	}
	return b.String()
}
