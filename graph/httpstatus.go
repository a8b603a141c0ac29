package graph

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
)

// GraphQL over HTTP (the spec's current draft) wants a request error (a
// query that does not parse or validate, or breaks a limit: nothing was
// executed) answered with 200 when the response is application/json, so
// that a client that accepts anything (Apollo Client 3 sends */*) shows the
// errors instead of "Received status code 422"; with 4xx (gqlgen's 400)
// when it is application/graphql-response+json; and, in both, without a
// "data" member, which gqlgen writes as null.

// requestErrors wraps gqlgen's server: it turns the 422 gqlgen answers to
// a request error as application/json into 200, and drops "data" from a
// request error's body.
func requestErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&requestErrorWriter{ResponseWriter: w}, r)
	})
}

// requestErrorWriter rewrites a request error's status and body; every
// other response passes through untouched.
type requestErrorWriter struct {
	http.ResponseWriter
	requestError bool
}

func (w *requestErrorWriter) WriteHeader(status int) {
	mt, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
	switch {
	case status == http.StatusUnprocessableEntity && mt == "application/json":
		w.requestError, status = true, http.StatusOK
	case status == http.StatusBadRequest && mt == "application/graphql-response+json":
		w.requestError = true
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write drops a request error's "data": null. gqlgen writes its body in
// one call.
func (w *requestErrorWriter) Write(b []byte) (int, error) {
	if !w.requestError {
		return w.ResponseWriter.Write(b)
	}
	var body map[string]json.RawMessage
	if json.Unmarshal(b, &body) != nil || !bytes.Equal(body["data"], []byte("null")) {
		return w.ResponseWriter.Write(b)
	}
	delete(body, "data")
	out, err := json.Marshal(body)
	if err != nil {
		return w.ResponseWriter.Write(b)
	}
	if _, err := w.ResponseWriter.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Unwrap lets http.ResponseController reach the connection.
func (w *requestErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
