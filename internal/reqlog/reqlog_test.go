package reqlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"catalog-bff/internal/reqlog"
)

func TestValid(t *testing.T) {
	for id, want := range map[string]bool{
		"abc-123":                    true,
		"0f8fad5b-d9cb-469f-a165-70": true,
		strings.Repeat("a", 64):      true,
		"":                           false,
		strings.Repeat("a", 65):      false,
		"has space":                  false,
		"line\nbreak":                false,
		"tab\t":                      false,
		"é":                          false,
		"nul\x00":                    false,
	} {
		if got := reqlog.Valid(id); got != want {
			t.Errorf("Valid(%q) = %v, want %v", id, got, want)
		}
	}
}

// Each log line written with the request's context carries its id, and the
// response echoes it: the client's own when usable, a fresh one otherwise.
func TestMiddlewareAndHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(reqlog.NewHandler(slog.NewJSONHandler(&buf, nil))).With("svc", "test")
	h := reqlog.Middleware(reqlog.AccessLog(log, reqlog.AccessOptions{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(r.Context(), "inside")
		w.WriteHeader(http.StatusTeapot)
	})))
	for sent, keep := range map[string]bool{"client-id-1": true, "bad id\r\nX: y": false, "": false} {
		buf.Reset()
		req := httptest.NewRequest("GET", "/query", nil)
		if sent != "" {
			req.Header.Set(reqlog.Header, sent)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get(reqlog.Header)
		if keep && got != sent || !keep && (got == sent || len(got) != 16) {
			t.Errorf("sent %q: response id %q", sent, got)
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("sent %q: %d log lines, want 2: %s", sent, len(lines), buf.String())
		}
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line is not JSON: %s", l)
			}
			if m["request_id"] != got || m["svc"] != "test" {
				t.Errorf("log line %s: want request_id %q and svc", l, got)
			}
		}
		if !strings.Contains(lines[1], `"status":418`) {
			t.Errorf("access line %s: want status 418", lines[1])
		}
	}
}

// The access log keeps every failed and every slow request, and samples
// the others.
func TestAccessLogSampling(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opt       reqlog.AccessOptions
		status    int
		pause     time.Duration
		min, max_ int
	}{
		{"ordinary, none sampled", reqlog.AccessOptions{Sample: 0}, 200, 0, 0, 0},
		{"ordinary, all sampled", reqlog.AccessOptions{Sample: 1}, 200, 0, 1000, 1000},
		{"ordinary, a tenth sampled", reqlog.AccessOptions{Sample: 0.1}, 200, 0, 30, 250},
		{"failed", reqlog.AccessOptions{Sample: 0}, 503, 0, 1000, 1000},
		{"slow", reqlog.AccessOptions{Sample: 0, Slow: time.Microsecond}, 200, 10 * time.Microsecond, 1000, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			h := reqlog.AccessLog(log, tc.opt, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(tc.pause)
				w.WriteHeader(tc.status)
			}))
			for range 1000 {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/query", nil))
			}
			if n := strings.Count(buf.String(), "\n"); n < tc.min || n > tc.max_ {
				t.Errorf("%d lines of 1000 requests, want %d to %d", n, tc.min, tc.max_)
			}
		})
	}
}

// A line logged outside any request has no request_id.
func TestHandlerWithoutID(t *testing.T) {
	var buf bytes.Buffer
	slog.New(reqlog.NewHandler(slog.NewTextHandler(&buf, nil))).Info("start")
	if strings.Contains(buf.String(), "request_id") {
		t.Errorf("no request, but: %s", buf.String())
	}
}

// What a handler learns about a request and annotates (a trusted
// document's id) is on the lines logged after it, the access log's
// included, and never on another request's.
func TestAnnotate(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(reqlog.NewHandler(slog.NewTextHandler(&out, nil)))
	h := reqlog.Middleware(reqlog.AccessLog(log, reqlog.AccessOptions{Sample: 1}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/annotated" {
			reqlog.Annotate(r.Context(), slog.String("document_id", "abc123"))
		}
		log.InfoContext(r.Context(), "working")
	})))
	for _, path := range []string{"/annotated", "/plain"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 lines, got:\n%s", out.String())
	}
	for i, l := range lines {
		if annotated := strings.Contains(l, "document_id=abc123"); annotated != (i < 2) {
			t.Errorf("line %d: annotated %v, want %v: %s", i, annotated, i < 2, l)
		}
	}
	reqlog.Annotate(context.Background(), slog.String("k", "v")) // outside a request: nothing to annotate, no panic
}
