package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// childEnv switches the test binary into the service: crash tests run it
// as a child process that they can SIGKILL or SIGTERM.
const childEnv = "CATALOG_BFF_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		crashAt = os.Getenv("CATALOG_CRASH_AT") // test-only: see crashAt
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// childMain is server.go's main in the child: it serves until SIGTERM and
// returns the exit code main would.
func childMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "catalog-bff:", err)
		return 1
	}
	return 0
}

// child is the service running in a process of its own.
type child struct {
	cmd  *exec.Cmd
	base string
	logs *storetest.LogBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's error, set before done is closed
}

// startChild starts the service as a child process with env, and waits
// until it serves. It is killed, if still running, when t ends.
func startChild(t *testing.T, env map[string]string) *child {
	t.Helper()
	env = maps.Clone(env)
	env["PORT"] = "0"                  // the child logs the port it got
	if env["VIEWS_SPILL_FILE"] == "" { // never in the working directory
		env["VIEWS_SPILL_FILE"] = filepath.Join(t.TempDir(), "views.spill.json")
	}
	env[childEnv] = "1"
	c := &child{cmd: exec.Command(os.Args[0]), logs: &storetest.LogBuffer{}, done: make(chan struct{})}
	c.cmd.Env = os.Environ()
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill() // it may have exited already
		<-c.done
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if port, ok := servingPort(c.logs.String()); ok {
			c.base = "http://127.0.0.1:" + port
			return c
		}
		if c.exited() {
			t.Fatalf("child exited at start: %v; logs:\n%s", c.err, c.logs)
		}
	}
	t.Fatalf("child did not start; logs:\n%s", c.logs)
	return nil
}

// servingPort returns the port a service reports serving on in its logs
// (text or JSON), once it does.
func servingPort(logs string) (string, bool) {
	m := servingLine.FindStringSubmatch(logs)
	if m == nil {
		return "", false
	}
	return m[1], true
}

var servingLine = regexp.MustCompile(`"?msg"?[=:]"?serving[^\n]*?"?addr"?[=:]"?[^\s"]*:(\d+)`)

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// wait waits for the child to exit and returns how: the signal that killed
// it, or "exit N".
func (c *child) wait(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(within):
		t.Fatalf("child still running after %v; logs:\n%s", within, c.logs)
	}
	ws := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return ws.Signal().String()
	}
	return fmt.Sprint("exit ", ws.ExitStatus())
}

// recordView sends one view and reports whether the service acknowledged
// it: a response with the product and no error.
func recordView(base string, id int64) bool {
	body := fmt.Sprintf(`{"query":"mutation { recordView(productId: \"%d\") { id hits } }"}`, id)
	res, err := http.Post(base+"/query", "application/json", strings.NewReader(body))
	if err != nil {
		return false
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	s := string(b)
	return err == nil && res.StatusCode == 200 && !strings.Contains(s, `"errors"`) && strings.Contains(s, fmt.Sprintf(`"id":"%d"`, id))
}

// sqlHits reads products.hits of ids 1..n straight from the database.
func sqlHits(t *testing.T, dbURL string, n int) map[int64]int64 {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	hits, _, err := db.ViewBase(context.Background(), ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// The flusher is killed with SIGKILL at each point of a flush, on
// PostgreSQL: after it read the log in Redis, between its UPDATE and
// COMMIT, after the COMMIT, and after the trim. Views keep arriving at a
// second instance (in this process, flushing only when it stops), whose
// clients see every view acknowledged. The killed instance is restarted
// and flushes; SQL then holds exactly the acknowledged views.
func TestViewsExactAfterCrash(t *testing.T) {
	for _, point := range []string{"after-read", "before-commit", "after-commit", "after-trim"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			const products = 5
			redisURL := storetest.RedisURL(t)
			env := map[string]string{
				"DATABASE_URL": storetest.DatabaseURL(t, sqlstore.Postgres),
				"REDIS_URL":    redisURL, "REDIS_PREFIX": storetest.Prefix(t, redisURL),
				"DEMO_PRODUCTS": "20", "VIEWS_FLUSH_INTERVAL": "1h",
				"VIEW_RATE_LIMIT": "0", // every view from this one client must count
				// A loaded CI machine must not time out healthy Redis calls:
				// the test is about crashes, not about a slow Redis.
				"REDIS_TIMEOUT": "1s",
			}
			front, _ := start(t, maps.Clone(env)) // migrates and seeds
			base := sqlHits(t, env["DATABASE_URL"], products)
			env["VIEWS_FLUSH_INTERVAL"] = "20ms"
			crashing := maps.Clone(env)
			crashing["CATALOG_CRASH_AT"] = point
			flusher := startChild(t, crashing)

			acked := map[int64]int64{}
			send := func(i int) {
				id := int64(1 + i%products)
				if !recordView(front, id) {
					t.Fatalf("view %d not acknowledged", i)
				}
				acked[id]++
			}
			i := 0
			for ; !flusher.exited() && i < 5000; i++ {
				send(i)
			}
			if how := flusher.wait(t, 10*time.Second); how != "killed" {
				t.Fatalf("flusher ended with %s, want killed at %s; logs:\n%s", how, point, flusher.logs)
			}
			checkCrashState(t, env, point)
			for range 50 { // views while no flusher runs
				send(i)
				i++
			}
			flusher = startChild(t, env)
			for range 50 {
				send(i)
				i++
			}
			if err := syscall.Kill(flusher.cmd.Process.Pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if how := flusher.wait(t, 10*time.Second); how != "exit 0" {
				t.Fatalf("restarted flusher ended with %s; logs:\n%s", how, flusher.logs)
			}
			got := sqlHits(t, env["DATABASE_URL"], products)
			var total int64
			for id := int64(1); id <= products; id++ {
				total += acked[id]
				if got[id]-base[id] != acked[id] {
					t.Errorf("product %d: SQL has %d new views, clients saw %d acknowledged", id, got[id]-base[id], acked[id])
				}
			}
			t.Logf("killed %s: %d views acknowledged, %d in SQL", point, total, sum(got)-sum(base))
		})
	}
}

// checkCrashState checks what the kill left: before the commit, SQL's
// token still in Redis and entries after SQL's position in the log; after
// the commit, SQL's token not yet in Redis and the applied entries still in
// the log; after the trim, SQL's token in Redis and no applied entry left.
func checkCrashState(t *testing.T, env map[string]string, point string) {
	t.Helper()
	ctx := context.Background()
	rdb, err := redisstore.NewRedis(env["REDIS_URL"], redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	db, err := sqlstore.Open(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	state, err := db.ViewLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := redisKeyPrefix(t, env) + "{views}:"
	token, err := rdb.Get(ctx, key+"token").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	applied, err := rdb.XRange(ctx, key+"log", "-", state.Applied.String()).Result()
	if err != nil {
		t.Fatal(err)
	}
	after, err := rdb.XRange(ctx, key+"log", "("+state.Applied.String(), "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	committed := point == "after-commit" || point == "after-trim"
	switch {
	case !committed && (token != state.Token || len(after) == 0):
		t.Errorf("killed %s: Redis token %q, SQL's %q, %d entries after SQL's position; want SQL's token and entries",
			point, token, state.Token, len(after))
	case point == "after-commit" && (token == state.Token || len(applied) == 0):
		t.Errorf("killed %s: Redis token %q, SQL's %q, %d applied entries in the log; want another token and entries",
			point, token, state.Token, len(applied))
	case point == "after-trim" && (token != state.Token || len(applied) != 0):
		t.Errorf("killed %s: Redis token %q, SQL's %q, %d applied entries in the log; want SQL's token and none",
			point, token, state.Token, len(applied))
	}
}

// SIGTERM: the service stops taking requests, finishes those in flight, and
// flushes the views it holds before it exits. Without Redis they are all in
// the process.
func TestSigtermFlushesViewsHeldInProcess(t *testing.T) {
	dbURL := "sqlite:" + t.TempDir() + "/catalog.db"
	svc := startChild(t, map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": "off",
		"DEMO_PRODUCTS": "5", "VIEWS_FLUSH_INTERVAL": "1h"})
	base := sqlHits(t, dbURL, 5)
	for i := range 30 {
		if !recordView(svc.base, int64(1+i%5)) {
			t.Fatalf("view %d not acknowledged", i)
		}
	}
	if got := sqlHits(t, dbURL, 5); sum(got) != sum(base) {
		t.Fatalf("views reached SQL before the flush: %v", got)
	}
	if err := syscall.Kill(svc.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if how := svc.wait(t, 10*time.Second); how != "exit 0" {
		t.Fatalf("service ended with %s; logs:\n%s", how, svc.logs)
	}
	got := sqlHits(t, dbURL, 5)
	for id := int64(1); id <= 5; id++ {
		if got[id] != base[id]+6 {
			t.Errorf("product %d: SQL hits %d, want %d", id, got[id], base[id]+6)
		}
	}
}

func sum(m map[int64]int64) int64 {
	var s int64
	for _, n := range m {
		s += n
	}
	return s
}

// The service is killed with SIGKILL between a mutation's commit and its
// invalidation, with the old document in the cache. After a restart the
// outbox delivers the invalidation, and no read, through the restarted
// process or another instance, serves the old document.
func TestInvalidationSurvivesCrash(t *testing.T) {
	redisURL := storetest.RedisURL(t)
	env := map[string]string{
		"DATABASE_URL": storetest.DatabaseURL(t, sqlstore.Postgres),
		"REDIS_URL":    redisURL, "REDIS_PREFIX": storetest.Prefix(t, redisURL),
		"DEMO_PRODUCTS": "20", "ADMIN_TOKENS": "crash-token",
	}
	other, _ := start(t, maps.Clone(env)) // another instance; migrates and seeds
	name := func(base string) string {
		return post(t, base, `"{ product(id: \"3\") { name } }"`)
	}
	if !strings.Contains(name(other), `"name"`) {
		t.Fatalf("product 3: %s", name(other))
	}
	crashing := maps.Clone(env)
	crashing["CATALOG_CRASH_AT"] = "after-write-commit"
	victim := startChild(t, crashing)
	req, _ := http.NewRequest("POST", victim.base+"/query", strings.NewReader(
		`{"query":"mutation { updateProduct(id: \"3\", input: {name: \"Written before the crash\"}) { name } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer crash-token")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("the mutation answered %d; the process should have died first", res.StatusCode)
	}
	if how := victim.wait(t, 10*time.Second); how != "killed" {
		t.Fatalf("victim ended with %s; logs:\n%s", how, victim.logs)
	}
	restarted := startChild(t, env)
	if got := name(restarted.base); !strings.Contains(got, "Written before the crash") {
		t.Errorf("restarted process serves %s, want the committed name", got)
	}
	db, err := sqlstore.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.Eventually(t, 10*time.Second, "an empty outbox", func() bool {
		n, err := db.OutboxSize(context.Background())
		return err == nil && n == 0
	})
	for _, base := range []string{restarted.base, other} {
		if got := name(base); !strings.Contains(got, "Written before the crash") {
			t.Errorf("after delivery, %s serves %s", base, got)
		}
	}
}
