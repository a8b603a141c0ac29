package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"catalog-bff/internal/telemetry"
)

// Result is the measure of one scenario in one mode.
type Result struct {
	Scenario string `json:"scenario"`
	// Mode is "closed" (Connections requests always in flight, each sent
	// as soon as the previous one answered) or "open" (Rate requests a
	// second, sent on schedule whatever the answers).
	Mode        string  `json:"mode"`
	Connections int     `json:"connections,omitempty"`
	Rate        float64 `json:"rate,omitempty"` // the open loop's target
	// SentRate is the rate requests actually went out at. In the open loop,
	// below Rate means the load generator could not keep to the schedule
	// (the machine is short of CPU), and the latencies are then not free of
	// coordinated omission.
	SentRate float64 `json:"sentRate"`
	Seconds  float64 `json:"seconds"`
	Requests uint64  `json:"requests"`
	Errors   uint64  `json:"errors"`
	// Throughput is successful requests a second.
	Throughput float64 `json:"throughput"`
	P50ms      float64 `json:"p50ms"`
	P90ms      float64 `json:"p90ms"`
	P99ms      float64 `json:"p99ms"`
	MaxMs      float64 `json:"maxMs"`
	MeanMs     float64 `json:"meanMs"`
	// Costs per request served, from the server's /debug/costs; nil when
	// the server has none (the floor).
	Costs       *Costs   `json:"costs,omitempty"`
	FirstErrors []string `json:"firstErrors,omitempty"`
}

// Costs is what a request cost the server on average.
type Costs struct {
	SQLStatements   float64            `json:"sqlStatements"`
	RedisRoundTrips float64            `json:"redisRoundTrips"`
	RedisCommands   map[string]float64 `json:"redisCommands"`
	ServerRequests  int64              `json:"serverRequests"`
	// Pool waits over the whole run: a high count means a pool is too
	// small for the load.
	SQLPool   telemetry.PoolCounts `json:"sqlPool"`
	RedisPool telemetry.PoolCounts `json:"redisPool"`
	// CPUMicros is the server's CPU time per request, in microseconds:
	// steadier than throughput when other work shares the machine.
	CPUMicros float64 `json:"cpuMicros"`
	// CPUFrom says where CPUMicros was read: "/proc" (the server's process
	// tree, -server-pid) or "/debug/costs" (the server's own account).
	CPUFrom string `json:"cpuFrom,omitempty"`
	// CPUOnly is set when the server has no /debug/costs: only CPUMicros
	// is known, divided by the requests the load generator sent, and the
	// other fields are zero.
	CPUOnly bool `json:"cpuOnly,omitempty"`
}

// attackOptions says how hard and how long to attack.
type attackOptions struct {
	mode        string
	connections int
	rate        int // open loop only
	duration    time.Duration
}

// attack runs one scenario in one mode and measures it. GraphQL errors
// count as failures, like HTTP errors do.
func attack(tr vegeta.Targeter, opt attackOptions) Result {
	a := newAttacker(opt)
	var pacer vegeta.Pacer = vegeta.ConstantPacer{} // zero: as fast as the workers go
	if opt.mode == "open" {
		pacer = vegeta.ConstantPacer{Freq: opt.rate, Per: time.Second}
	}
	var m vegeta.Metrics
	r := Result{Mode: opt.mode}
	for res := range a.Attack(tr, pacer, opt.duration, "") {
		if res.Error == "" && bytes.Contains(res.Body, []byte(`"errors":`)) {
			res.Error = fmt.Sprintf("HTTP %d: %.200s", res.Code, res.Body)
		}
		if res.Error != "" {
			r.Errors++
			if len(r.FirstErrors) < 3 {
				r.FirstErrors = append(r.FirstErrors, res.Error)
			}
		}
		res.Body = nil
		m.Add(res)
	}
	m.Close()
	return r.fill(&m, opt)
}

// newAttacker returns an attacker whose workers are its connections: in the
// closed loop exactly opt.connections, each waiting for its answer; in the
// open loop as many as it takes to keep to the rate.
func newAttacker(opt attackOptions) *vegeta.Attacker {
	opts := []func(*vegeta.Attacker){
		vegeta.Timeout(10 * time.Second),
		vegeta.KeepAlive(true),
		vegeta.Connections(max(opt.connections, 1000)),
	}
	if opt.mode == "closed" {
		n := uint64(opt.connections)
		opts = append(opts, vegeta.Workers(n), vegeta.MaxWorkers(n), vegeta.MaxConnections(opt.connections))
	} else {
		opts = append(opts, vegeta.Workers(uint64(opt.connections)), vegeta.MaxWorkers(10_000))
	}
	return vegeta.NewAttacker(opts...)
}

func (r Result) fill(m *vegeta.Metrics, opt attackOptions) Result {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	r.Requests, r.SentRate = m.Requests, m.Rate
	r.Seconds = (m.Duration + m.Wait).Seconds()
	if r.Seconds > 0 {
		r.Throughput = float64(m.Requests-r.Errors) / r.Seconds
	}
	r.P50ms, r.P90ms, r.P99ms = ms(m.Latencies.P50), ms(m.Latencies.P90), ms(m.Latencies.P99)
	r.MaxMs, r.MeanMs = ms(m.Latencies.Max), ms(m.Latencies.Mean)
	if opt.mode == "closed" {
		r.Connections = opt.connections
	} else {
		r.Rate = float64(opt.rate)
	}
	return r
}

// readCosts reads the server's counters; nil when it has none.
func readCosts(client *http.Client, url string) *telemetry.ProcessCosts {
	if url == "" {
		return nil
	}
	res, err := client.Get(url)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	var c telemetry.ProcessCosts
	if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&c) != nil {
		return nil
	}
	return &c
}

// perRequest divides what the server spent between two reads by the
// requests it served in between.
func perRequest(before, after *telemetry.ProcessCosts) *Costs {
	if before == nil || after == nil {
		return nil
	}
	n := after.Requests - before.Requests
	if n <= 0 {
		return nil
	}
	c := &Costs{
		SQLStatements:   float64(after.SQLStatements-before.SQLStatements) / float64(n),
		RedisRoundTrips: float64(after.RedisRoundTrips-before.RedisRoundTrips) / float64(n),
		RedisCommands:   map[string]float64{},
		ServerRequests:  n,
		SQLPool:         after.SQLPool.Sub(before.SQLPool),
		RedisPool:       after.RedisPool.Sub(before.RedisPool),
		CPUMicros:       float64(after.CPUNs-before.CPUNs) / 1e3 / float64(n),
		CPUFrom:         "/debug/costs",
	}
	for name, v := range after.RedisCommands {
		if d := v - before.RedisCommands[name]; d != 0 {
			c.RedisCommands[name] = float64(d) / float64(n)
		}
	}
	return c
}

// sample is what the server had spent at one moment: its counters (nil
// when it has no /debug/costs) and its process tree's CPU time in ns (-1
// without -server-pid).
type sample struct {
	costs *telemetry.ProcessCosts
	cpuNs int64
}

func (o options) sample(client *http.Client) sample {
	return sample{costs: readCosts(client, o.costsURL), cpuNs: serverCPU(o.serverPid)}
}

// spent returns what a request cost the server between two samples, sent
// the number of requests the load generator sent in between. The server's
// counters give the costs and the number of requests when it has them;
// /proc, when both samples read it, gives the CPU time, so that the CPU
// of servers with and without /debug/costs is measured alike. Nil when
// neither is known.
func spent(before, after sample, sent uint64) *Costs {
	c := perRequest(before.costs, after.costs)
	if before.cpuNs < 0 || after.cpuNs < 0 {
		return c
	}
	if c == nil {
		if sent == 0 {
			return nil
		}
		c = &Costs{RedisCommands: map[string]float64{}, ServerRequests: int64(sent), CPUOnly: true}
	}
	c.CPUMicros = float64(after.cpuNs-before.cpuNs) / 1e3 / float64(c.ServerRequests)
	c.CPUFrom = "/proc"
	return c
}
