package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// The codes of requests refused at the HTTP layer, each with its status.
const (
	CodeBodyTooLarge         = "BODY_TOO_LARGE"         // 413
	CodeURITooLong           = "URI_TOO_LONG"           // 414
	CodeBatchNotSupported    = "BATCH_NOT_SUPPORTED"    // 400
	CodeBadRequest           = "BAD_REQUEST"            // 400
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE" // 415
	// CodeMethodNotAllowed (405) is declared with the limits.
)

// guard refuses, before gqlgen sees them, the requests this endpoint does
// not serve, each with a JSON error that has a code and never echoes the
// request:
//   - methods other than GET, POST and OPTIONS (405);
//   - a POST that is not application/json (415), so that an HTML form
//     (urlencoded, multipart, text/plain) cannot post a mutation from
//     another site: a JSON post from a page needs a CORS preflight;
//   - a POST body over maxBody bytes (413), or a GET query string over it
//     (414);
//   - a body that is a JSON array, a batch of operations (400);
//   - a body or parameters that are not valid UTF-8, or not one JSON object
//     of the GraphQL-over-HTTP shape (400);
//   - a body or JSON parameter with a key twice in one object, or a GET
//     parameter given twice (400): what runs must be what any reader of the
//     request sees;
//   - a GET whose operation is a mutation (405).
//
// Requests that pass go on with the body already read into memory, so
// gqlgen's transport reads it back and decodes it without error, and with
// the parameters guard decoded in their context (paramsOf).
func guard(maxBody int64, maxTokens int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err *refusal
		var params *graphql.RawParams
		switch r.Method {
		case http.MethodPost:
			params, err = checkPost(w, r, maxBody)
		case http.MethodGet:
			params, err = checkGet(r, maxBody, maxTokens)
		case http.MethodOptions:
		default:
			err = refuse(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method %s: use POST, or GET for queries", r.Method)
		}
		if err != nil {
			if err.status == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", "GET, POST, OPTIONS")
			}
			writeError(w, err.status, err.code, err.msg)
			return
		}
		ctx := context.WithValue(r.Context(), methodKey{}, r.Method)
		if params != nil {
			ctx = withParams(ctx, params)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type paramsKey struct{}

// withParams returns ctx carrying a request's parameters.
func withParams(ctx context.Context, p *graphql.RawParams) context.Context {
	return context.WithValue(ctx, paramsKey{}, p)
}

// withParamsOf returns a copy of r that asks for np instead: its body, or
// its query string, rewritten for gqlgen's transport (a GET's documentId
// goes: np carries the query), and np in its context for the handlers
// after it.
func withParamsOf(r *http.Request, np *graphql.RawParams) (*http.Request, error) {
	r = r.Clone(r.Context())
	if r.Method != http.MethodGet {
		body, err := json.Marshal(np)
		if err != nil {
			return nil, err
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		return r.WithContext(withParams(r.Context(), np)), nil
	}
	q := r.URL.Query()
	q.Del("documentId")
	for name, v := range map[string]string{"query": np.Query, "operationName": np.OperationName} {
		if v == "" {
			q.Del(name)
		} else {
			q.Set(name, v)
		}
	}
	for name, m := range map[string]map[string]any{"variables": np.Variables, "extensions": np.Extensions} {
		if len(m) == 0 {
			q.Del(name)
			continue
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		q.Set(name, string(b))
	}
	r.URL.RawQuery = q.Encode()
	return r.WithContext(withParams(r.Context(), np)), nil
}

// paramsOf returns the request's parameters as guard decoded them,
// numbers as json.Number, or nil.
// They are shared: read them, never change them.
func paramsOf(ctx context.Context) *graphql.RawParams {
	p, _ := ctx.Value(paramsKey{}).(*graphql.RawParams)
	return p
}

// refusal is a request refused by guard.
type refusal struct {
	status    int
	code, msg string
}

func refuse(status int, code, format string, args ...any) *refusal {
	return &refusal{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// checkPost reads r's body and leaves it in r for the next handler.
func checkPost(w http.ResponseWriter, r *http.Request, maxBody int64) (*graphql.RawParams, *refusal) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return nil, refuse(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType,
			"a POST must have Content-Type: application/json")
	}
	if r.Header.Get("Upgrade") != "" {
		return nil, refuse(http.StatusBadRequest, CodeBadRequest, "protocol upgrades are not supported")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, refuse(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body is over the limit of %d bytes", maxBody)
	case err != nil:
		return nil, refuse(http.StatusBadRequest, CodeBadRequest, "the body could not be read")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if !utf8.Valid(body) {
		return nil, refuse(http.StatusBadRequest, CodeBadRequest, "the body is not valid UTF-8")
	}
	if first := bytes.TrimLeft(body, " \t\r\n"); len(first) > 0 && first[0] == '[' {
		return nil, refuse(http.StatusBadRequest, CodeBatchNotSupported, "batches are not supported: send one operation per request")
	}
	return checkJSON(body)
}

// checkJSON checks that body is one JSON object that decodes as gqlgen's
// request parameters: query and operationName strings, variables and
// extensions objects. It returns the parameters.
func checkJSON(body []byte) (*graphql.RawParams, *refusal) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var p graphql.RawParams
	err := dec.Decode(&p)
	// Anything but whitespace after the object: another value, or a
	// stray '}' or ']' (which Decoder.More does not report).
	if err == nil && len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, refuse(http.StatusBadRequest, CodeBadRequest, "the body holds more than one JSON value")
	}
	if err != nil {
		return nil, jsonRefusal("the body", err)
	}
	if key, dup := duplicateKey(body); dup {
		return nil, refuse(http.StatusBadRequest, CodeBadRequest, "the body has the key %.40q twice in one object", key)
	}
	return &p, nil
}

// jsonRefusal describes a JSON decoding error without quoting the input.
func jsonRefusal(what string, err error) *refusal {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		return refuse(http.StatusBadRequest, CodeBadRequest, "%s is empty", what)
	case errors.As(err, &syntax):
		return refuse(http.StatusBadRequest, CodeBadRequest, "%s is not valid JSON (error at byte %d)", what, syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return refuse(http.StatusBadRequest, CodeBadRequest, "%s: %q must not be a JSON %s", what, typ.Field, kind(typ))
	case errors.As(err, &typ):
		return refuse(http.StatusBadRequest, CodeBadRequest, "%s must be a JSON object, not a %s", what, kind(typ))
	default:
		return refuse(http.StatusBadRequest, CodeBadRequest, "%s is not a JSON object", what)
	}
}

// kind is the JSON kind of a mistyped value ("number", "array"…), without
// the value that encoding/json appends to numbers.
func kind(e *json.UnmarshalTypeError) string {
	k, _, _ := strings.Cut(e.Value, " ")
	return k
}

// checkGet checks a GET's parameters the way gqlgen's GET transport reads
// them, and refuses an operation other than a query. It returns the
// parameters.
func checkGet(r *http.Request, maxBody int64, maxTokens int) (*graphql.RawParams, *refusal) {
	if int64(len(r.URL.RawQuery)) > maxBody {
		return nil, refuse(http.StatusRequestURITooLong, CodeURITooLong, "the query string is over the limit of %d bytes", maxBody)
	}
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, CodeBadRequest, "the query string does not decode")
	}
	for name, values := range params {
		for _, v := range values {
			if !utf8.ValidString(v) {
				return nil, refuse(http.StatusBadRequest, CodeBadRequest, "parameter %q is not valid UTF-8", name)
			}
		}
	}
	for _, name := range []string{"query", "operationName", "variables", "extensions", "documentId"} {
		if len(params[name]) > 1 {
			return nil, refuse(http.StatusBadRequest, CodeBadRequest, "parameter %q is given more than once", name)
		}
	}
	p := &graphql.RawParams{Query: params.Get("query"), OperationName: params.Get("operationName")}
	for _, f := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &p.Variables}, {"extensions", &p.Extensions}} {
		if v := params.Get(f.name); v != "" {
			if err := decodeObject(v, f.dst); err != nil {
				return nil, jsonRefusal("parameter "+f.name, err)
			}
			if key, dup := duplicateKey([]byte(v)); dup {
				return nil, refuse(http.StatusBadRequest, CodeBadRequest, "parameter %s has the key %.40q twice in one object", f.name, key)
			}
		}
	}
	return p, checkGetOperation(p.Query, p.OperationName, maxTokens)
}

// decodeObject decodes one JSON object into dst, numbers as json.Number
// (as a POST's), so that two numbers never decode to one value.
func decodeObject(s string, dst *map[string]any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	err := dec.Decode(dst)
	if err == nil && dec.More() {
		return json.Unmarshal([]byte(s), new(any)) // the error of trailing data
	}
	return err
}

// checkGetOperation refuses a GET whose operation is not a query, so that a
// link or an image tag cannot run a mutation. A query that does not parse
// goes on, for gqlgen to report.
func checkGetOperation(query, name string, maxTokens int) *refusal {
	if query == "" {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, maxTokens)
	if err != nil {
		return nil
	}
	if op := doc.Operations.ForName(name); op != nil && op.Operation != ast.Query {
		return refuse(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "a %s needs POST; GET runs only queries", op.Operation)
	}
	return nil
}

// writeError writes a GraphQL error response with a code.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	e := &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
	json.NewEncoder(w).Encode(graphql.Response{Errors: gqlerror.List{e}})
}
