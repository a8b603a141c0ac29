package main

import (
	"os"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"catalog-bff/internal/telemetry"
)

// stat is a /proc/<pid>/stat line with the given parent and CPU ticks
// (utime, stime, cutime, cstime), and a command name that holds what
// trips a parser that splits on spaces or on the first ")".
func stat(pid, ppid string, utime, stime, cutime, cstime string) *fstest.MapFile {
	line := pid + " (node: a) (b) S " + ppid + " 1 1 0 -1 4194560 100 0 0 0 " +
		utime + " " + stime + " " + cutime + " " + cstime + " 20 0 11 0 100 1000 200\n"
	return &fstest.MapFile{Data: []byte(line)}
}

// A process tree's CPU is its root's and every descendant's, ended and
// waited-for children included; other processes do not count.
func TestTreeCPU(t *testing.T) {
	fsys := fstest.MapFS{
		"1/stat":    stat("1", "0", "5000", "5000", "0", "0"),  // init: not ours
		"10/stat":   stat("10", "1", "100", "50", "7", "3"),    // the cluster primary
		"11/stat":   stat("11", "10", "200", "20", "0", "0"),   // a worker
		"12/stat":   stat("12", "10", "300", "30", "0", "0"),   // a worker
		"13/stat":   stat("13", "12", "1", "1", "0", "0"),      // a worker's child
		"20/stat":   stat("20", "1", "999", "999", "0", "0"),   // a neighbour
		"self/stat": stat("20", "1", "999", "999", "0", "0"),   // not a pid
		"30/stat":   &fstest.MapFile{Data: []byte("30 (gone")}, // unreadable: left out
	}
	got, err := treeCPU(fsys, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(100+50+7+3+200+20+300+30+1+1) * clockTick; got != want {
		t.Errorf("treeCPU(10) = %d ns, want %d", got, want)
	}
	if got, _ := treeCPU(fsys, 11); got != 220*clockTick {
		t.Errorf("treeCPU(11) = %d ns, want a worker's own %d", got, 220*clockTick)
	}
	if _, err := treeCPU(fsys, 99); err == nil {
		t.Error("treeCPU of a missing process: no error")
	}
}

// The real /proc: the CPU this test burns shows in its own process's
// figure, as the kernel accounts it.
func TestServerCPU(t *testing.T) {
	before := serverCPU(os.Getpid())
	if before < 0 {
		t.Fatal("cannot read this process's CPU time from /proc")
	}
	start := rusage(t)
	for x := 0; rusage(t)-start < 100*time.Millisecond.Nanoseconds(); x++ {
		_ = x * x
	}
	// /proc counts in 10 ms ticks and rusage more finely: allow two ticks.
	if d := serverCPU(os.Getpid()) - before; d < 80*time.Millisecond.Nanoseconds() {
		t.Errorf("burned 100 ms of CPU, /proc shows %d ns", d)
	}
	if serverCPU(0) != -1 {
		t.Error("serverCPU(0) should say: not measured")
	}
}

func rusage(t *testing.T) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// With /proc, the CPU a request costs is the tree's CPU divided by the
// server's requests when it counts them, by the requests sent otherwise.
func TestSpent(t *testing.T) {
	counters := func(req, cpu int64) *telemetry.ProcessCosts {
		return &telemetry.ProcessCosts{Requests: req, CPUNs: cpu, SQLStatements: req, RedisCommands: map[string]int64{}}
	}
	c := spent(sample{counters(0, 0), 1e6}, sample{counters(100, 5e6), 21e6}, 90)
	if c.CPUMicros != 200 || c.CPUFrom != "/proc" || c.CPUOnly || c.SQLStatements != 1 {
		t.Errorf("with counters and /proc: %+v", c)
	}
	c = spent(sample{counters(0, 0), -1}, sample{counters(100, 5e6), -1}, 90)
	if c.CPUMicros != 50 || c.CPUFrom != "/debug/costs" {
		t.Errorf("with counters only: %+v", c)
	}
	c = spent(sample{nil, 1e6}, sample{nil, 11e6}, 50)
	if c.CPUMicros != 200 || !c.CPUOnly || c.ServerRequests != 50 {
		t.Errorf("with /proc only: %+v", c)
	}
	if spent(sample{nil, 1e6}, sample{nil, 11e6}, 0) != nil || spent(sample{nil, -1}, sample{nil, -1}, 50) != nil {
		t.Error("costs without a request or without a measure")
	}
}
