package main

import (
	"bytes"
	"fmt"
)

// Labels of the runs that compare.sh makes.
const (
	labelDefaults = "defaults"       // the service as it ships
	labelToday    = "today's design" // without the near cache and the response cache
	labelOff      = "cache off"      // REDIS_URL=off: every read is SQL
	labelFloor    = "floor"          // bench floor: a fixed answer, nothing behind it
	labelPeer     = "apollo"         // the Apollo Server peer
)

// lowRateScenario names compare.sh's detail runs at a low fixed rate.
const lowRateScenario = "detail@200/s"

// writeRatios writes, per scenario, the closed-loop throughput of the
// service with its defaults over each other server's.
func writeRatios(b *bytes.Buffer, runs []Report) {
	others := []string{labelToday, labelOff, labelPeer, labelFloor}
	b.WriteString("Closed-loop throughput of **defaults** over each other server's, within this run:\n\n| scenario |")
	for _, o := range others {
		fmt.Fprintf(b, " / %s |", o)
	}
	b.WriteString("\n|---|--:|--:|--:|--:|\n")
	for _, s := range scenarios {
		d := find(runs, labelDefaults, s, "closed")
		if d == nil {
			continue
		}
		fmt.Fprintf(b, "| %s |", s)
		for _, o := range others {
			cell := "–"
			if r := find(runs, o, s, "closed"); r != nil && r.Throughput > 0 {
				cell = ratio(d.Throughput/r.Throughput, o == labelFloor)
			}
			fmt.Fprintf(b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// ratio formats x as a multiple, or as a percentage of a floor.
func ratio(x float64, percent bool) string {
	if percent {
		return fmt.Sprintf("%.0f %%", 100*x)
	}
	return fmt.Sprintf("%.1f×", x)
}

func writeCommands(b *bytes.Buffer, runs []Report) {
	b.WriteString("The servers:\n\n")
	for _, r := range runs {
		fmt.Fprintf(b, "- %s: `%s`\n", r.Label, r.URL)
	}
	b.WriteString("\n")
}

// targetRow is one target checked on a run's figures. known is false when
// the run lacks a figure the target needs.
type targetRow struct {
	target, measured string
	ok, known        bool
}

// writeTargets checks the figures of this run against the targets.
func writeTargets(b *bytes.Buffer, runs []Report) {
	b.WriteString("Targets, checked on this run's figures (defaults, warm):\n\n| target | measured | |\n|---|---|---|\n")
	for _, t := range []targetRow{
		throughputRatio(runs, "detail", labelPeer, 3),
		throughputRatio(runs, "detail", labelOff, 8),
		floorShare(runs, 0.25),
		lowRateLatency(runs, 1, 5),
		halfMaxLatency(runs, 10),
		throughputRatio(runs, "batch", labelToday, 2),
		throughputRatio(runs, "mixed", labelToday, 2),
		cpuPerPage(runs, 100),
		viewsSQL(runs),
	} {
		verdict := "–"
		switch {
		case !t.known:
			t.measured = "not measured in this run"
		case t.ok:
			verdict = "met"
		default:
			verdict = "**missed**"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", t.target, t.measured, verdict)
	}
	b.WriteString("\n")
}

// throughputRatio: the defaults' closed-loop throughput in scenario is at
// least min times other's.
func throughputRatio(runs []Report, scenario, other string, min float64) targetRow {
	t := targetRow{target: fmt.Sprintf("`%s` closed loop ≥ %g× %s", scenario, min, other)}
	d, o := find(runs, labelDefaults, scenario, "closed"), find(runs, other, scenario, "closed")
	if d == nil || o == nil || o.Throughput <= 0 {
		return t
	}
	x := d.Throughput / o.Throughput
	t.measured = fmt.Sprintf("%.2f× (%.0f against %.0f req/s)%s", x, d.Throughput, o.Throughput, errorNote(d, o))
	t.ok, t.known = x >= min, true
	return t
}

// floorShare: the defaults' closed-loop detail throughput is at least
// share of the floor's, both measured by the same load generator.
func floorShare(runs []Report, share float64) targetRow {
	t := targetRow{target: fmt.Sprintf("`detail` closed loop ≥ %.0f %% of the floor (same load generator)", 100*share)}
	d, f := find(runs, labelDefaults, "detail", "closed"), find(runs, labelFloor, "detail", "closed")
	if d == nil || f == nil || f.Throughput <= 0 {
		return t
	}
	x := d.Throughput / f.Throughput
	t.measured = fmt.Sprintf("%.0f %% (%.0f against %.0f req/s)%s", 100*x, d.Throughput, f.Throughput, errorNote(d, f))
	t.ok, t.known = x >= share, true
	return t
}

// lowRateLatency: product pages at 200 req/s, open loop, answer within
// p50 and p99 milliseconds, without errors.
func lowRateLatency(runs []Report, p50, p99 float64) targetRow {
	t := targetRow{target: fmt.Sprintf("`detail` open loop at 200 req/s: p50 ≤ %g ms, p99 ≤ %g ms", p50, p99)}
	r := find(runs, labelDefaults, lowRateScenario, "open")
	if r == nil {
		return t
	}
	t.measured = fmt.Sprintf("p50 %s, p99 %s%s%s", msf(r.P50ms), msf(r.P99ms), errorNote(r), behindNote(r))
	t.ok, t.known = r.P50ms <= p50 && r.P99ms <= p99 && r.Errors == 0, true
	return t
}

// halfMaxLatency: product pages at half the closed loop's throughput, open
// loop, answer within p99 milliseconds, without errors.
func halfMaxLatency(runs []Report, p99 float64) targetRow {
	t := targetRow{target: fmt.Sprintf("`detail` open loop at half the closed-loop maximum: p99 ≤ %g ms", p99)}
	r := find(runs, labelDefaults, "detail", "open")
	if r == nil {
		return t
	}
	t.measured = fmt.Sprintf("p99 %s at %.0f req/s%s%s", msf(r.P99ms), r.Rate, errorNote(r), behindNote(r))
	t.ok, t.known = r.P99ms <= p99 && r.Errors == 0, true
	return t
}

// cpuPerPage: a warm product page costs the server at most max µs of CPU.
func cpuPerPage(runs []Report, max float64) targetRow {
	t := targetRow{target: fmt.Sprintf("server CPU per warm `detail` page (closed loop) ≤ %g µs", max)}
	r := find(runs, labelDefaults, "detail", "closed")
	if r == nil || r.Costs == nil {
		return t
	}
	t.measured = fmt.Sprintf("%.0f µs (read from %s)", r.Costs.CPUMicros, r.Costs.CPUFrom)
	t.ok, t.known = r.Costs.CPUMicros <= max, true
	return t
}

// viewsSQL: counting a view costs no SQL statement of its own.
func viewsSQL(runs []Report) targetRow {
	t := targetRow{target: "`views`: 0 SQL statements a request (the flusher's spread over the views)"}
	r := find(runs, labelDefaults, "views", "closed")
	if r == nil || r.Costs == nil || r.Costs.CPUOnly {
		return t
	}
	t.measured = fmt.Sprintf("%.4f", r.Costs.SQLStatements)
	t.ok, t.known = r.Costs.SQLStatements < 0.01, true
	return t
}

// errorNote says how many requests failed, if any did.
func errorNote(rs ...*Result) string {
	var n uint64
	for _, r := range rs {
		n += r.Errors
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d requests failed", n)
}

// behindNote says when the load generator could not keep to the open
// loop's schedule: the latencies then understate the wait.
func behindNote(r *Result) string {
	if r.SentRate >= 0.9*r.Rate {
		return ""
	}
	return fmt.Sprintf("; the load generator sent only %.0f req/s", r.SentRate)
}
