package storetest

import (
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a TCP proxy in the test process, between a client and a service,
// that a test can cut (connections refused) or hang (connections accepted,
// nothing answered) to simulate the service going down, and restore to bring
// it back. It listens on 127.0.0.1 on a port of its own.
type Proxy struct {
	upstream atomic.Pointer[string]
	addr     string
	hung     atomic.Bool
	delay    atomic.Int64 // added to each reply, in nanoseconds
	mu       sync.Mutex
	ln       net.Listener // nil while cut
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

// NewProxy starts a proxy to upstream (host:port), stopped when tb ends.
func NewProxy(tb testing.TB, upstream string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.upstream.Store(&upstream)
	p.serve(ln)
	tb.Cleanup(func() {
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// RedisURL returns redisURL with its host replaced by the proxy's address.
func (p *Proxy) RedisURL(tb testing.TB, redisURL string) string {
	tb.Helper()
	u, err := url.Parse(redisURL)
	if err != nil {
		tb.Fatal(err)
	}
	u.Host = p.addr
	return u.String()
}

// Cut closes every proxied connection and the listener: from now on a
// connection to the proxy is refused.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Retarget sends new connections to upstream and closes the open ones, as
// a failover to a service at another address looks to a client behind a
// stable name.
func (p *Proxy) Retarget(upstream string) {
	p.upstream.Store(&upstream)
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Hang makes the service stop answering without closing anything: bytes
// sent either way are dropped, and new connections are accepted and never
// answered. Restore ends it.
func (p *Proxy) Hang() { p.hung.Store(true) }

// Delay adds d of latency to everything the service sends back; 0 ends it.
func (p *Proxy) Delay(d time.Duration) { p.delay.Store(int64(d)) }

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Restore ends a hang and, after a cut, listens again on the same address.
func (p *Proxy) Restore(tb testing.TB) {
	tb.Helper()
	p.hung.Store(false)
	p.mu.Lock()
	listening := p.ln != nil
	p.mu.Unlock()
	if listening {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		tb.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.pipe(c)
		}
	}()
}

// pipe connects c to the upstream, or closes it when the proxy is cut or
// the upstream refuses. While hung, it only reads c.
func (p *Proxy) pipe(c net.Conn) {
	if p.hung.Load() {
		if p.track(c) {
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.copy(nil, c, false) }()
		}
		return
	}
	up, err := net.Dial("tcp", *p.upstream.Load())
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		c.Close()
		up.Close()
		return
	}
	for i, dir := range [][2]net.Conn{{up, c}, {c, up}} {
		p.wg.Add(1)
		go func(dst, src net.Conn, reply bool) {
			defer p.wg.Done()
			p.copy(dst, src, reply)
			dst.Close()
			src.Close()
		}(dir[0], dir[1], i == 1)
	}
}

// copy forwards src to dst, dropping what it reads while hung or when dst
// is nil, until either side closes or Cut. A reply waits out the delay.
func (p *Proxy) copy(dst, src net.Conn, reply bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if d := p.delay.Load(); reply && n > 0 && d > 0 {
			time.Sleep(time.Duration(d))
		}
		if n > 0 && dst != nil && !p.hung.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// track registers a connection pair, unless the proxy was cut meanwhile.
func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}
