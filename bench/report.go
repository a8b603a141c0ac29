package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The generated part of the report sits between these markers; the text
// around them is written by hand and kept as it is.
const (
	beginMarker = "<!-- bench:begin (written by bench/compare.sh; edits here are lost) -->"
	endMarker   = "<!-- bench:end -->"
)

// runReport is `bench report`: it turns the JSON of a comparison's runs
// into the tables, ratios and chart of docs/BENCHMARKS.md.
func runReport(args []string) error {
	fs := flag.NewFlagSet("bench report", flag.ContinueOnError)
	out := fs.String("out", "docs/BENCHMARKS.md", "the report to write into, between its markers")
	chart := fs.String("chart", "docs/benchmarks.png", "the chart to write")
	machine := fs.String("machine", "", "a Markdown file describing the machine and the run, included as is")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var runs []Report
	for _, path := range fs.Args() {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var r Report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return fmt.Errorf("report: no results given")
	}
	runs = mergeByLabel(runs)
	if err := writeChart(*chart, runs); err != nil {
		return err
	}
	var about []byte
	if *machine != "" {
		var err error
		if about, err = os.ReadFile(*machine); err != nil {
			return err
		}
	}
	rel, err := filepath.Rel(filepath.Dir(*out), *chart)
	if err != nil {
		rel = *chart
	}
	return splice(*out, generate(runs, string(about), rel))
}

// mergeByLabel joins the results of runs with the same label, in order:
// compare.sh runs one scenario at a time against each server in turn.
func mergeByLabel(runs []Report) []Report {
	var out []Report
	at := map[string]int{}
	for _, r := range runs {
		i, ok := at[r.Label]
		if !ok {
			at[r.Label] = len(out)
			out = append(out, r)
			continue
		}
		out[i].Results = append(out[i].Results, r.Results...)
	}
	return out
}

// splice replaces the generated part of the file at path, or creates the
// file with only that part.
func splice(path, generated string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	block := beginMarker + "\n" + generated + endMarker
	s := string(old)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + block + s[j+len(endMarker):]
	default:
		s = "# Benchmarks\n\n" + block + "\n" + s
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// generate writes the machine, the figures, the ratios and the targets.
func generate(runs []Report, about, chart string) string {
	var b bytes.Buffer
	if about != "" {
		b.WriteString(about)
		b.WriteString("\n")
	}
	b.WriteString("| server | scenario | mode | load | req/s | p50 | p90 | p99 | max | errors | SQL/req | Redis/req | server CPU/req |\n")
	b.WriteString("|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, run := range runs {
		for _, r := range run.Results {
			load := fmt.Sprintf("%d conns", r.Connections)
			if r.Mode == "open" {
				load = fmt.Sprintf("%.0f req/s", r.Rate)
				if r.SentRate < 0.9*r.Rate {
					load += fmt.Sprintf(" (sent %.0f)", r.SentRate)
				}
			}
			sql, rt, cpu := "–", "–", "–"
			if r.Costs != nil {
				sql, rt = fmt.Sprintf("%.3f", r.Costs.SQLStatements), fmt.Sprintf("%.3f", r.Costs.RedisRoundTrips)
				cpu = fmt.Sprintf("%.0f µs", r.Costs.CPUMicros)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %d | %s | %s | %s |\n",
				run.Label, r.Scenario, r.Mode, load, r.Throughput, msf(r.P50ms), msf(r.P90ms), msf(r.P99ms),
				msf(r.MaxMs), r.Errors, sql, rt, cpu)
		}
	}
	fmt.Fprintf(&b, "\n![throughput and p99 per scenario and mode](%s)\n\n", chart)
	writeRatios(&b, runs)
	writeCommands(&b, runs)
	writeTargets(&b, runs)
	return b.String()
}

func msf(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// find returns the result of a scenario and mode in the run labelled
// label, or nil.
func find(runs []Report, label, scenario, mode string) *Result {
	for i := range runs {
		if runs[i].Label != label {
			continue
		}
		for j := range runs[i].Results {
			if r := &runs[i].Results[j]; r.Scenario == scenario && r.Mode == mode {
				return r
			}
		}
	}
	return nil
}

// Labels of the runs that compare.sh makes.
const (
	labelOn    = "cache on"
	labelOff   = "cache off"
	labelFloor = "floor"
)

func writeRatios(b *bytes.Buffer, runs []Report) {
	b.WriteString("Ratios of closed-loop throughput, within this run:\n\n| scenario | cache on / cache off | cache on / floor |\n|---|--:|--:|\n")
	floor := find(runs, labelFloor, "detail", "closed")
	for _, s := range scenarios {
		on, off := find(runs, labelOn, s, "closed"), find(runs, labelOff, s, "closed")
		if on == nil {
			continue
		}
		vsOff, vsFloor := "–", "–"
		if off != nil && off.Throughput > 0 {
			vsOff = fmt.Sprintf("%.1f×", on.Throughput/off.Throughput)
		}
		if floor != nil && floor.Throughput > 0 && s == "detail" {
			vsFloor = fmt.Sprintf("%.0f %%", 100*on.Throughput/floor.Throughput)
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", s, vsOff, vsFloor)
	}
	b.WriteString("\n")
}

func writeCommands(b *bytes.Buffer, runs []Report) {
	b.WriteString("The servers:\n\n")
	for _, r := range runs {
		fmt.Fprintf(b, "- %s: `%s`\n", r.Label, r.URL)
	}
	b.WriteString("\n")
}

// writeTargets checks the figures of this run against the targets.
func writeTargets(b *bytes.Buffer, runs []Report) {
	b.WriteString("Targets, checked on this run's figures:\n\n| target | measured | |\n|---|---|---|\n")
	row := func(target, measured string, ok bool) {
		verdict := "met"
		if !ok {
			verdict = "**missed**"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", target, measured, verdict)
	}
	on, off, floor := find(runs, labelOn, "detail", "closed"), find(runs, labelOff, "detail", "closed"),
		find(runs, labelFloor, "detail", "closed")
	if on != nil && off != nil && off.Throughput > 0 {
		x := on.Throughput / off.Throughput
		row("`detail` closed loop ≥ 4× cache off", fmt.Sprintf("%.1f×", x), x >= 4)
	}
	if on != nil && floor != nil && floor.Throughput > 0 {
		x := on.Throughput / floor.Throughput
		row("`detail` closed loop ≥ 30 % of the floor", fmt.Sprintf("%.0f %%", 100*x), x >= 0.3)
	}
	if r := find(runs, labelOn, "batch", "closed"); r != nil && r.Costs != nil {
		row("`batch` warm: 0 SQL statements; Redis: one MGET per level of the query "+
			"(product, seller, category, parent: 4) and one EVALSHA for the 20 view counts, 5 in all",
			fmt.Sprintf("%.3f SQL, %.2f round trips (%.2f MGET, %.2f EVALSHA)", r.Costs.SQLStatements,
				r.Costs.RedisRoundTrips, r.Costs.RedisCommands["mget"], r.Costs.RedisCommands["evalsha"]),
			r.Costs.SQLStatements < 0.01 && r.Costs.RedisRoundTrips < 5.05)
	}
	if r := find(runs, labelOn, "views", "closed"); r != nil && r.Costs != nil {
		row("`views`: 0 SQL statements a request", fmt.Sprintf("%.4f", r.Costs.SQLStatements), r.Costs.SQLStatements < 0.01)
	}
	if r := find(runs, labelOn, "detail", "open"); r != nil {
		m := fmt.Sprintf("p99 %s at %.0f req/s, %d errors", msf(r.P99ms), r.Rate, r.Errors)
		if f := find(runs, labelFloor, "detail", "open"); f != nil {
			m += fmt.Sprintf("; the floor at half its own maximum (%.0f req/s): p99 %s", f.Rate, msf(f.P99ms))
		}
		for _, low := range lowRate(runs, labelOn) {
			m += fmt.Sprintf("; cache on at %.0f req/s: p50 %s, p99 %s", low.Rate, msf(low.P50ms), msf(low.P99ms))
		}
		row("`detail` open loop at 50 % of the maximum: p99 < 5 ms", m, r.P99ms < 5 && r.Errors == 0)
	}
	b.WriteString("\n")
}

// lowRate returns the label's detail runs at a fixed low rate (-tag @…).
func lowRate(runs []Report, label string) []Result {
	var out []Result
	for _, run := range runs {
		if run.Label != label {
			continue
		}
		for _, r := range run.Results {
			if strings.HasPrefix(r.Scenario, "detail@") {
				out = append(out, r)
			}
		}
	}
	return out
}
