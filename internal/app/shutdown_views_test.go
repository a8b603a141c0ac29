package app

import (
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"catalog-bff/store/sqlstore"
	"catalog-bff/store/storetest"
)

// SHUTDOWN_TIMEOUT is read from the environment and the flag (which wins),
// defaults to 25 s, must be positive, and the HTTP drain takes at most the
// smaller of 10 s and half of it.
func TestShutdownTimeoutConfig(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if c, _, err := ParseConfig("t", nil, getenv, io.Discard); err != nil || c.shutdownTimeout != 25*time.Second {
		t.Errorf("default: %v, %v; want 25s", c.shutdownTimeout, err)
	}
	env["SHUTDOWN_TIMEOUT"] = "4s"
	if c, _, err := ParseConfig("t", []string{"-shutdown-timeout", "7s"}, getenv, io.Discard); err != nil || c.shutdownTimeout != 7*time.Second {
		t.Errorf("flag over env: %v, %v; want 7s", c.shutdownTimeout, err)
	}
	for _, bad := range []string{"0s", "-1s", "soon"} {
		env["SHUTDOWN_TIMEOUT"] = bad
		if _, _, err := ParseConfig("t", nil, getenv, io.Discard); err == nil || !strings.Contains(err.Error(), "SHUTDOWN_TIMEOUT") {
			t.Errorf("SHUTDOWN_TIMEOUT=%s: %v, want an error naming the variable", bad, err)
		}
	}
	for stop, want := range map[time.Duration]time.Duration{25 * time.Second: 10 * time.Second,
		time.Minute: 10 * time.Second, 3 * time.Second: 1500 * time.Millisecond} {
		if got := httpDrainTimeout(stop); got != want {
			t.Errorf("httpDrainTimeout(%v) = %v, want %v", stop, got, want)
		}
	}
}

// SIGTERM while PostgreSQL is unreachable (a proxy in front of it, cut
// once the views are acknowledged), with SHUTDOWN_TIMEOUT=3s:
//   - without Redis, the views held in process go to the spill file; the
//     process exits 0, and a restart on the database, back, applies them;
//   - with Redis, the views stay in Redis until a flush applies them;
//     views recorded after the cut are still acknowledged; the process
//     exits 0, and a restart flushes them all;
//   - without Redis and with a spill file that cannot be written, the
//     process exits 1 and its log names the views lost: exactly those
//     acknowledged that SQL does not hold.
//
// In each case the stop ends within five times the setting (a margin for
// a loaded machine, still below the 20 s the final flush alone used to be
// given), and a clean stop of the restarted process leaves SQL at its base
// plus exactly the views acknowledged (less those lost, in the last case).
func TestSigtermWithDatabaseDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the service as child processes and waits out a stop's deadline")
	}
	for _, tc := range []struct {
		name      string
		redis     bool
		spillFile func(t *testing.T) string
		exit      string
	}{
		{"no redis", false, tempSpillFile, "exit 0"},
		{"redis", true, tempSpillFile, "exit 0"},
		// The spill file's directory is removed once the service started
		// (a start refuses one it cannot write). Not a read-only directory:
		// the tests may run as root, which writes there anyway.
		{"no redis, unwritable spill file", false, func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "gone")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(dir, "views.spill.json")
		}, "exit 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stopWithDatabaseDown(t, tc.redis, tc.spillFile(t), tc.exit)
		})
	}
}

func tempSpillFile(t *testing.T) string { return filepath.Join(t.TempDir(), "views.spill.json") }

// stopWithDatabaseDown is one case of TestSigtermWithDatabaseDown: views,
// the database cut, SIGTERM, a restart on the database, a clean stop, and
// the count.
func stopWithDatabaseDown(t *testing.T, withRedis bool, spillFile, wantExit string) {
	const products, shutdown = 5, 3 * time.Second
	dbURL := storetest.DatabaseURL(t, sqlstore.Postgres)
	proxy, proxied := proxiedDatabase(t, dbURL)
	env := map[string]string{"DATABASE_URL": proxied, "REDIS_URL": "off", "DEMO_PRODUCTS": "20",
		"VIEWS_FLUSH_INTERVAL": "1h", "VIEWS_SPILL_FILE": spillFile, "SHUTDOWN_TIMEOUT": shutdown.String()}
	if withRedis {
		redisURL := storetest.RedisURL(t)
		env["REDIS_URL"], env["REDIS_PREFIX"] = redisURL, storetest.Prefix(t, redisURL)
		env["VIEW_RATE_LIMIT"] = "0" // every view from this one client must count
		env["REDIS_TIMEOUT"] = "1s"  // a loaded machine must not time out a healthy Redis
	}
	svc := startChild(t, env)
	base := sqlHits(t, dbURL, products)
	acked := map[int64]int64{}
	views := func(n int) {
		for i := range n {
			id := int64(1 + i%products)
			if !recordView(svc.base, id) {
				t.Fatalf("view %d of product %d not acknowledged; logs:\n%s", i, id, svc.logs)
			}
			acked[id]++
		}
	}
	views(60)
	if wantExit != "exit 0" {
		if err := os.RemoveAll(filepath.Dir(spillFile)); err != nil {
			t.Fatal(err)
		}
	}
	heldAtCut := sum(acked) - (sum(sqlHits(t, dbURL, products)) - sum(base))
	if heldAtCut == 0 { // only the flush at start could have run
		t.Fatalf("every view reached SQL before the cut: nothing to test")
	}
	proxy.Cut()
	if withRedis {
		views(20) // counted in Redis, whose documents and counts need no SQL
	}
	sent := time.Now()
	if err := syscall.Kill(svc.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	how, took := svc.wait(t, time.Minute), time.Since(sent)
	if how != wantExit {
		t.Fatalf("stop with the database down: %s, want %s; logs:\n%s", how, wantExit, svc.logs)
	}
	if took > 5*shutdown {
		t.Errorf("the stop took %v with SHUTDOWN_TIMEOUT=%v; logs:\n%s", took, shutdown, svc.logs)
	}
	if !withRedis && wantExit == "exit 0" {
		if _, err := os.Stat(spillFile); err != nil {
			t.Errorf("no spill file after a stop with views held and the database down: %v; logs:\n%s", err, svc.logs)
		}
	}

	back := maps.Clone(env)
	back["DATABASE_URL"] = dbURL
	if err := os.MkdirAll(filepath.Dir(spillFile), 0o700); err != nil { // the directory is back too
		t.Fatal(err)
	}
	again := startChild(t, back)
	total := sum(acked)
	if wantExit == "exit 0" {
		storetest.Eventually(t, 30*time.Second, "the acknowledged views in SQL", func() bool {
			return sum(sqlHits(t, dbURL, products))-sum(base) >= total
		})
	}
	if err := syscall.Kill(again.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if how := again.wait(t, time.Minute); how != "exit 0" {
		t.Fatalf("restarted service ended with %s; logs:\n%s", how, again.logs)
	}
	got := sqlHits(t, dbURL, products)
	inSQL := sum(got) - sum(base)
	if wantExit != "exit 0" {
		lost := lostViews(t, svc.logs.String())
		if lost != total-inSQL || lost == 0 {
			t.Errorf("the log names %d views lost; %d acknowledged, %d in SQL; logs:\n%s", lost, total, inSQL, svc.logs)
		}
		t.Logf("%d views acknowledged (%d held at the cut), %d in SQL, %d named lost, %s", total, heldAtCut, inSQL, lost, how)
		return
	}
	for id := int64(1); id <= products; id++ {
		if got[id]-base[id] != acked[id] {
			t.Errorf("product %d: SQL has %d new views, clients saw %d acknowledged", id, got[id]-base[id], acked[id])
		}
	}
	t.Logf("%d views acknowledged (%d held at the cut), %d in SQL, %s; stop took %v",
		total, heldAtCut, inSQL, how, took.Round(time.Millisecond))
}

// proxiedDatabase returns a proxy in front of dbURL's server and the URL
// that goes through it.
func proxiedDatabase(t *testing.T, dbURL string) (*storetest.Proxy, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := storetest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	return proxy, u.String()
}

// lostViews reads the views a stop lost from its logs: the ERROR line of
// the view counter and the error the process exits with, which must agree.
func lostViews(t *testing.T, logs string) int64 {
	t.Helper()
	var n [2]int64
	for i, re := range []*regexp.Regexp{
		regexp.MustCompile(`acknowledged views lost: SQL and the spill file both failed"? "?views"?[=:](\d+)`),
		regexp.MustCompile(`catalog-bff: (\d+) acknowledged views were written neither to SQL nor to `),
	} {
		m := re.FindStringSubmatch(logs)
		if m == nil {
			t.Fatalf("logs lack %s:\n%s", re, logs)
		}
		n[i], _ = strconv.ParseInt(m[1], 10, 64)
	}
	if n[0] != n[1] {
		t.Errorf("the log line names %d views lost, the exit error %d", n[0], n[1])
	}
	return n[1]
}
