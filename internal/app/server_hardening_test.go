package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"catalog-bff/graph"
	"catalog-bff/loaders"
)

// In production the playground is gone, introspection is refused, and logs
// are JSON lines that carry the request's id.
func TestRunInProduction(t *testing.T) {
	base, logs := start(t, map[string]string{
		"DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL":     "off",
		"DEMO_PRODUCTS": "5",
		"CATALOG_ENV":   "production",
	})
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET / in production: %d, want 404", res.StatusCode)
	}
	req, _ := http.NewRequest("POST", base+"/query", strings.NewReader(`{"query":"{ __schema { types { name } } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", "trace-42")
	// A request error is 400 as application/graphql-response+json (200 as
	// application/json): a failed request always gets an access log line.
	req.Header.Set("Accept", "application/graphql-response+json")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "INTROSPECTION_DISABLED") {
		t.Errorf("introspection in production: %s", body)
	}
	if got := res.Header.Get("X-Request-ID"); got != "trace-42" {
		t.Errorf("X-Request-ID %q, want trace-42", got)
	}
	var access map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if m["msg"] == "request" && m["path"] == "/query" {
			access = m
		}
	}
	if access["request_id"] != "trace-42" || access["status"] != float64(400) {
		t.Errorf("access log line %v, want request_id trace-42 and status 400", access)
	}
}

// A client that sends its headers or its body too slowly is cut off. The
// server's timeouts are scaled down here; the mechanism is the same.
func TestSlowClientsCutOff(t *testing.T) {
	srv := httpServer(nil, 16<<10)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout < srv.ReadHeaderTimeout || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("timeouts %v %v %v %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	srv.Handler = graph.NewHandler(graph.HandlerOptions{Resolver: &graph.Resolver{}, Loaders: loaders.NewFactory(loaders.Options{}),
		Logger: slog.New(slog.DiscardHandler)})
	srv.ReadHeaderTimeout, srv.ReadTimeout = 200*time.Millisecond, 300*time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }() // ErrServerClosed when the test ends
	defer srv.Close()
	for name, c := range map[string]struct{ send, want string }{
		"headers never finished": {"POST /query HTTP/1.1\r\nHost: x\r\n", ""},
		"body never finished": {"POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":",
			`"code":"BAD_REQUEST"`},
	} {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte(c.send)); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil {
			t.Errorf("%s: still open after 10 s: %v", name, err)
		}
		if !strings.Contains(string(got), c.want) {
			t.Errorf("%s: got %q, want %q", name, got, c.want)
		}
	}
}

// With no ADMIN_TOKENS, the embedded database outside production makes a
// token for the run and logs it; production never does, whatever the
// database, and refuses admin mutations.
func TestAdminTokenOfTheRun(t *testing.T) {
	for _, production := range []bool{false, true} {
		env := map[string]string{"REDIS_URL": "off", "DEMO_PRODUCTS": "3",
			"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "catalog.db")}
		if production {
			env["CATALOG_ENV"] = "production"
		}
		base, logs := start(t, env)
		m := regexp.MustCompile(`made an admin token for this run"? "?token"?[=:]"?([0-9a-f]{32})`).FindStringSubmatch(logs.String())
		if production != (m == nil) {
			t.Fatalf("production %v: token logged %v; logs:\n%s", production, m != nil, logs)
		}
		token := "anything"
		if m != nil {
			token = m[1]
		}
		req, _ := http.NewRequest("POST", base+"/query", strings.NewReader(`{"query":"mutation { setStock(productId: \"1\", stock: 5) { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if refused := strings.Contains(string(body), `"FORBIDDEN"`); refused != production {
			t.Errorf("production %v: the mutation answered %s", production, body)
		}
	}
}
