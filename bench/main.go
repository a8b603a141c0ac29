// Command bench is the load generator of the service's GraphQL endpoint,
// built on vegeta. It runs scenarios in a closed loop (a fixed number of
// connections, each sending its next request as soon as the last one
// answered: throughput) and in an open loop (requests sent at a constant
// rate whatever the answers: latency free of coordinated omission), and
// reads the server's /debug/costs around each run for the SQL statements
// and Redis round trips a request costs.
//
//	go run ./bench                                   # every scenario, both modes
//	go run ./bench -mode closed -duration 5s detail batch
//	go run ./bench -json results.json -label "cache on"
//	go run ./bench floor -addr 127.0.0.1:8090        # the floor server
//	go run ./bench report -out docs/BENCHMARKS.md on.json off.json floor.json
//
// bench/compare.sh runs the whole comparison and writes docs/BENCHMARKS.md.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "floor":
		err = runFloor(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "report":
		err = runReport(os.Args[2:])
	default:
		err = runBench(os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the load generator's flags.
type options struct {
	url          string
	costsURL     string
	serverPid    int
	mode         string
	connections  int
	duration     time.Duration
	warmup       time.Duration
	rate         int
	openFraction float64
	products     int
	hot          int
	seed         uint64
	token        string
	jsonOut      string
	label        string
	maxErrors    int
	tag          string
	scenarios    []string
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080/query", "the GraphQL endpoint")
	fs.StringVar(&o.costsURL, "costs-url", "", "the server's cost counters (default: /debug/costs beside -url; \"off\" for none)")
	fs.IntVar(&o.serverPid, "server-pid", 0, "the server's process id: its CPU time, summed over its process tree (a node cluster's\n"+
		"workers too), is read from /proc around each run and gives the CPU a request costs, for every server alike")
	fs.StringVar(&o.mode, "mode", "both", "closed (throughput), open (latency at a fixed rate) or both")
	fs.IntVar(&o.connections, "connections", 32, "closed loop: connections, each with one request in flight")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured run")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured closed-loop run before each scenario")
	fs.IntVar(&o.rate, "rate", 0, "open loop: requests a second (default: -open-fraction of the closed loop's throughput)")
	fs.Float64Var(&o.openFraction, "open-fraction", 0.5, "open loop rate as a fraction of the closed loop's throughput")
	fs.IntVar(&o.products, "products", 100_000, "the catalogue's size: hot ids are drawn from 1..products")
	fs.IntVar(&o.hot, "hot", 1000, "how many distinct products the requests ask for")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the hot set")
	fs.StringVar(&o.token, "token", os.Getenv("BENCH_ADMIN_TOKEN"), "admin token for mixed's updateProduct (BENCH_ADMIN_TOKEN)")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file (- for stdout)")
	fs.StringVar(&o.label, "label", "", "name of this run in the JSON, e.g. \"cache on\"")
	fs.StringVar(&o.tag, "tag", "", "appended to the scenario's name in the results, e.g. @200/s for a run at a low fixed rate")
	fs.IntVar(&o.maxErrors, "max-errors", -1, "exit with an error when more requests than this failed (-1: never); CI's smoke run uses 0")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: bench [flags] [scenario ...]   scenarios: %v (default all)\n"+
			"       bench floor [-addr host:port]\n       bench report [flags] results.json ...\n", scenarios)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	return o, o.check(fs.Args())
}

func (o *options) check(names []string) error {
	if o.mode != "closed" && o.mode != "open" && o.mode != "both" {
		return fmt.Errorf("-mode %q: want closed, open or both", o.mode)
	}
	if o.mode == "open" && o.rate <= 0 {
		return fmt.Errorf("-mode open needs -rate (or -mode both, which takes it from the closed loop)")
	}
	if o.connections < 1 || o.hot < 1 || o.products < 1 {
		return fmt.Errorf("-connections, -hot and -products must be at least 1")
	}
	if o.scenarios = names; len(names) == 0 {
		o.scenarios = scenarios
	}
	for _, s := range o.scenarios {
		if !slices.Contains(scenarios, s) {
			return fmt.Errorf("unknown scenario %q (want one of %v)", s, scenarios)
		}
	}
	if slices.Contains(o.scenarios, "mixed") && o.token == "" {
		return fmt.Errorf("scenario mixed needs an admin token: -token or BENCH_ADMIN_TOKEN")
	}
	if o.serverPid != 0 && serverCPU(o.serverPid) < 0 {
		return fmt.Errorf("-server-pid %d: no such process in /proc", o.serverPid)
	}
	switch o.costsURL {
	case "off":
		o.costsURL = ""
	case "":
		u, err := url.Parse(o.url)
		if err != nil {
			return fmt.Errorf("-url: %w", err)
		}
		u.Path, u.RawQuery = "/debug/costs", ""
		o.costsURL = u.String()
	}
	return nil
}

// Report is what -json writes.
type Report struct {
	Label   string    `json:"label"`
	URL     string    `json:"url"`
	Started time.Time `json:"started"`
	Results []Result  `json:"results"`
}

// runBench warms the server up, runs each scenario in the modes asked for,
// prints a table and writes the JSON.
func runBench(args []string, stdout io.Writer) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	w := newWorkload(o.url, o.token, o.products, o.hot, o.seed)
	client := newClient()
	fmt.Fprintf(os.Stderr, "warming up %d hot products of %d at %s\n", o.hot, o.products, o.url)
	if err := w.warm(client); err != nil {
		return err
	}
	rep := Report{Label: o.label, URL: o.url, Started: time.Now().UTC()}
	printHeader(stdout)
	for _, s := range o.scenarios {
		rs, err := runScenario(w, client, o, s)
		if err != nil {
			return err
		}
		for _, r := range rs {
			printRow(stdout, r)
		}
		rep.Results = append(rep.Results, rs...)
	}
	if err := writeJSON(o.jsonOut, rep, stdout); err != nil {
		return err
	}
	return checkErrors(rep.Results, o.maxErrors)
}

// checkErrors fails when more than max requests failed; never when max < 0.
func checkErrors(rs []Result, max int) error {
	if max < 0 {
		return nil
	}
	var n uint64
	for _, r := range rs {
		n += r.Errors
	}
	if n > uint64(max) {
		return fmt.Errorf("%d requests failed (at most %d allowed)", n, max)
	}
	return nil
}

// runScenario runs one scenario: a warm-up, then the closed loop and/or the
// open loop, each between two samples of what the server has spent.
func runScenario(w *workload, client *http.Client, o options, s string) ([]Result, error) {
	tr, err := w.targeter(s)
	if err != nil {
		return nil, err
	}
	if o.warmup > 0 {
		attack(tr, attackOptions{mode: "closed", connections: o.connections, duration: o.warmup})
	}
	var out []Result
	measure := func(opt attackOptions) Result {
		before := o.sample(client)
		r := attack(tr, opt)
		r.Scenario, r.Costs = s+o.tag, spent(before, o.sample(client), r.Requests)
		out = append(out, r)
		return r
	}
	rate := o.rate
	if o.mode != "open" {
		r := measure(attackOptions{mode: "closed", connections: o.connections, duration: o.duration})
		if rate <= 0 {
			rate = max(1, int(r.Throughput*o.openFraction))
		}
	}
	if o.mode != "closed" {
		measure(attackOptions{mode: "open", connections: o.connections, rate: rate, duration: o.duration})
	}
	return out, nil
}

func writeJSON(path string, rep Report, stdout io.Writer) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func printHeader(w io.Writer) {
	fmt.Fprintf(w, "%-8s %-6s %10s %10s %8s %8s %8s %8s %7s %8s %9s %8s\n",
		"scenario", "mode", "conns/rate", "req/s", "p50", "p90", "p99", "max", "errors", "SQL/req", "Redis/req", "CPU/req")
}

func printRow(w io.Writer, r Result) {
	load := fmt.Sprint(r.Connections)
	if r.Mode == "open" {
		load = fmt.Sprintf("%.0f/s", r.Rate)
	}
	sql, rt, cpu := "-", "-", "-"
	if r.Costs != nil && !r.Costs.CPUOnly {
		sql, rt = fmt.Sprintf("%.3f", r.Costs.SQLStatements), fmt.Sprintf("%.3f", r.Costs.RedisRoundTrips)
	}
	if r.Costs != nil {
		cpu = fmt.Sprintf("%.0fµs", r.Costs.CPUMicros)
	}
	fmt.Fprintf(w, "%-8s %-6s %10s %10.0f %7.2fms %7.2fms %7.2fms %7.1fms %7d %8s %9s %8s\n",
		r.Scenario, r.Mode, load, r.Throughput, r.P50ms, r.P90ms, r.P99ms, r.MaxMs, r.Errors, sql, rt, cpu)
	if c := r.Costs; c != nil && (c.SQLPool.Waits+c.SQLPool.Closed+c.RedisPool.Waits+c.RedisPool.Timeouts > 0) {
		fmt.Fprintf(w, "    pools: SQL %d waits (%.0f ms), %d connections closed, %d open; Redis %d waits (%.0f ms), %d timeouts, %d open\n",
			c.SQLPool.Waits, float64(c.SQLPool.WaitNs)/1e6, c.SQLPool.Closed, c.SQLPool.Connections,
			c.RedisPool.Waits, float64(c.RedisPool.WaitNs)/1e6, c.RedisPool.Timeouts, c.RedisPool.Connections)
	}
	if r.Mode == "open" && r.SentRate < 0.9*r.Rate {
		fmt.Fprintf(w, "    sent only %.0f req/s of %.0f: the load generator fell behind its schedule\n", r.SentRate, r.Rate)
	}
	for _, e := range r.FirstErrors {
		fmt.Fprintf(w, "    error: %s\n", e)
	}
}
