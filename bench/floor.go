package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"catalog-bff/internal/telemetry"
)

// floorBody is a product page's answer, as the service gives it for a
// product with three images and three tags: the floor sends the same
// number of bytes as a real detail request gets.
var floorBody = map[string]any{"data": map[string]any{"product": map[string]any{
	"id": "4242", "name": "Walnut desk lamp 4242",
	"description": "A sturdy walnut desk lamp with a linen shade, a brass switch and a braided cable. " +
		"Fits a 60 W equivalent LED bulb; the arm turns 270 degrees. Assembled in the EU.",
	"price": map[string]any{"amount": 4999, "currency": "EUR"},
	"images": []map[string]string{
		{"url": "https://img.example.com/p/4242/1.jpg", "alt": "Walnut desk lamp 4242, front"},
		{"url": "https://img.example.com/p/4242/2.jpg", "alt": "Walnut desk lamp 4242, side"},
		{"url": "https://img.example.com/p/4242/3.jpg", "alt": "Walnut desk lamp 4242, detail"},
	},
	"tags":     []string{"lighting", "walnut", "desk"},
	"category": map[string]any{"id": "12", "name": "Desk lamps", "parent": map[string]any{"id": "2", "name": "Lighting"}},
	"seller":   map[string]any{"id": "77", "name": "Seller 77", "rating": 4.6},
	"hits":     123456,
}}}

// runFloor is `bench floor`: the least any HTTP service can do per request
// on this machine. It reads the request and answers a fixed detail-sized
// JSON body, with no GraphQL, cache or database behind it.
func runFloor(args []string) error {
	fs := flag.NewFlagSet("bench floor", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	bodyFile := fs.String("body", "", "answer this file's bytes instead of the built-in product page")
	if err := fs.Parse(args); err != nil {
		return err
	}
	answer, err := json.Marshal(floorBody)
	if err != nil {
		return err
	}
	if *bodyFile != "" {
		if answer, err = os.ReadFile(*bodyFile); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "floor: serving %d bytes on %s\n", len(answer), ln.Addr())
	srv := &http.Server{Handler: floorHandler(answer), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// floorHandler answers every request with answer, except GET
// /debug/costs, which reports the requests served and the CPU time used,
// like the service's: so the CPU a request costs compares across both.
func floorHandler(answer []byte) http.Handler {
	var requests atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" && r.URL.Path == "/debug/costs" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(telemetry.ProcessCosts{Requests: requests.Load(), CPUNs: cpuTime(),
				RedisCommands: map[string]int64{}})
			return
		}
		requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body) // a body cut short changes nothing to the answer
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	})
}

// cpuTime returns the CPU time this process has used, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
