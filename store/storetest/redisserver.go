package storetest

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"catalog-bff/store"
)

// StartRedis starts a Redis server of tb's own, with args added to its
// command line (for example "--maxmemory", "1mb"), listening on a unix
// socket in a temporary directory (no port to race for), and stops it when
// tb ends. It returns its URL. Without redis-server on the PATH the test is
// skipped, or fails under CI.
func StartRedis(tb testing.TB, args ...string) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(tb, "redis-server", err)
	}
	dir := tb.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, append([]string{"--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no",
		"--dir", dir}, args...)...)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("redis-server: %v", err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "unix://" + sock
	Eventually(tb, 10*time.Second, "redis-server to answer", func() bool {
		rdb, err := store.NewRedis(url, store.RedisOptions{Timeout: time.Second})
		if err != nil {
			return false
		}
		defer rdb.Close()
		return rdb.Ping(context.Background()).Err() == nil
	})
	return url
}
