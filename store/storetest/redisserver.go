package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"catalog-bff/store/redisstore"

	"github.com/redis/go-redis/v9"
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
		rdb, err := redisstore.NewRedis(url, redisstore.RedisOptions{Timeout: time.Second})
		if err != nil {
			return false
		}
		defer rdb.Close()
		return rdb.Ping(context.Background()).Err() == nil
	})
	return url
}

// RedisServer is a Redis server of a test's own that the test can kill and
// start again on the same address and data directory, for example after
// putting an older snapshot (dump.rdb) in place, and that can replicate
// another. It listens on TCP (replication needs it) on 127.0.0.1.
type RedisServer struct {
	tb     testing.TB
	bin    string
	Dir    string // data directory: dump.rdb lives here
	Addr   string // host:port
	args   []string
	proc   *os.Process
	exited chan struct{}
}

// NewRedisServer starts a Redis server with args added to its command line.
// It is killed when tb ends.
func NewRedisServer(tb testing.TB, args ...string) *RedisServer {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(tb, "redis-server", err)
	}
	s := &RedisServer{tb: tb, bin: bin, Dir: tb.TempDir(), args: args}
	tb.Cleanup(s.Kill)
	// A port taken between the pick and the start makes redis-server exit:
	// pick another.
	for try := 0; ; try++ {
		s.Addr = fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(30000))
		if s.start() {
			return s
		}
		if try == 10 {
			tb.Fatalf("redis-server did not start on any of 10 ports")
		}
	}
}

// URL is the server's redis:// URL.
func (s *RedisServer) URL() string { return "redis://" + s.Addr + "/0" }

// Kill stops the server at once, without saving: what it held in memory
// and did not snapshot is gone, as after a crash.
func (s *RedisServer) Kill() {
	if s.proc != nil {
		_ = s.proc.Kill()
		<-s.exited
		s.proc = nil
	}
}

// Start starts a killed server again, on the same address and data
// directory: it loads dump.rdb if there is one.
func (s *RedisServer) Start() {
	s.tb.Helper()
	if !s.start() {
		s.tb.Fatalf("redis-server did not start again on %s", s.Addr)
	}
}

// start starts the server and waits until it answers as itself (its
// process id), not some other server that had the port.
func (s *RedisServer) start() bool {
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command(s.bin, append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", s.Dir}, s.args...)...)
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	me := fmt.Sprintf("process_id:%d\r\n", cmd.Process.Pid)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return false
		default:
		}
		if info, err := rdb.Info(context.Background(), "server").Result(); err == nil && strings.Contains(info, me) {
			s.proc, s.exited = cmd.Process, exited
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return false
}

// FillRedis writes 16 KB values until Redis (under noeviction) refuses one
// for memory, then lowers maxmemory to 1 MB, below what it holds: every
// write is refused from then on, whatever the clients' buffers do, until
// the test raises maxmemory again (CONFIG SET maxmemory 0).
func FillRedis(tb testing.TB, rdb redis.UniversalClient) {
	tb.Helper()
	ctx := context.Background()
	filler := make([]byte, 16<<10)
	for i := 0; ; i++ {
		err := rdb.Set(ctx, fmt.Sprintf("filler:%d", i), filler, 0).Err()
		if err == nil {
			continue
		}
		if !strings.HasPrefix(err.Error(), "OOM") {
			tb.Fatal(err)
		}
		break
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "1mb").Err(); err != nil {
		tb.Fatal(err)
	}
}
