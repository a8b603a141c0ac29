package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat: USER_HZ,
// which Linux fixes at 100 a second for every architecture's user space.
const clockTick = 10_000_000 // ns

// procStat is what treeCPU needs of one /proc/<pid>/stat.
type procStat struct {
	ppid int
	// cpu is user and system time of the process, its live threads and
	// the threads that have ended, plus that of its children that have
	// ended and been waited for, in ns.
	cpu int64
}

// treeCPU returns the CPU time, in ns, that the process root and its
// descendants have used, read from the proc file system fsys (os.DirFS
// ("/proc") on Linux). A node cluster's primary and its workers, or a Go
// server's single process, count alike. Children that ended and were
// waited for still count, through their parent's cutime and cstime; those
// that ended unwaited are lost. It fails when root does not exist.
func treeCPU(fsys fs.FS, root int) (int64, error) {
	all, err := procStats(fsys)
	if err != nil {
		return 0, err
	}
	if _, ok := all[root]; !ok {
		return 0, fmt.Errorf("process %d: not found", root)
	}
	var total int64
	for pid, st := range all {
		if isDescendant(all, pid, root) {
			total += st.cpu
		}
	}
	return total, nil
}

// isDescendant reports whether pid is root or descends from it.
func isDescendant(all map[int]procStat, pid, root int) bool {
	for range len(all) { // bounds the walk should ppids ever form a cycle
		if pid == root {
			return true
		}
		st, ok := all[pid]
		if !ok || st.ppid == pid {
			return false
		}
		pid = st.ppid
	}
	return false
}

// procStats reads the stat of every process in fsys. Processes that end
// while it reads are left out.
func procStats(fsys fs.FS) (map[int]procStat, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	out := make(map[int]procStat, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name()+"/stat")
		if err != nil {
			continue // ended meanwhile
		}
		if st, err := parseStat(b); err == nil {
			out[pid] = st
		}
	}
	return out, nil
}

// parseStat reads the parent and the CPU times of a /proc/<pid>/stat line
// (proc(5)). The command name, field 2, is in parentheses and may itself
// hold spaces and parentheses, so fields are counted from the last ")".
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("stat: no command name in %q", b)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3, the state
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("stat: %d fields after the command name", len(f))
	}
	var v [5]int64 // ppid, utime, stime, cutime, cstime: fields 4, 14, 15, 16, 17
	for k, field := range []int{4, 14, 15, 16, 17} {
		n, err := strconv.ParseInt(string(f[field-3]), 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("stat field %d: %w", field, err)
		}
		v[k] = n
	}
	return procStat{ppid: int(v[0]), cpu: (v[1] + v[2] + v[3] + v[4]) * clockTick}, nil
}

// serverCPU returns the CPU time, in ns, of the server whose process id is
// pid and of its descendants; -1 when pid is 0 or cannot be read.
func serverCPU(pid int) int64 {
	if pid == 0 {
		return -1
	}
	ns, err := treeCPU(os.DirFS("/proc"), pid)
	if err != nil {
		return -1
	}
	return ns
}
