package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// generate writes the machine, the figures side by side and in full, the
// ratios and the targets.
func generate(runs []Report, about, chart string) string {
	var b bytes.Buffer
	if about != "" {
		b.WriteString(about)
		b.WriteString("\n")
	}
	writeSideBySide(&b, runs)
	fmt.Fprintf(&b, "![throughput and p99 per scenario and mode, a bar per server](%s)\n\n", chart)
	writeRatios(&b, runs)
	writeTargets(&b, runs)
	writeFull(&b, runs)
	writeCommands(&b, runs)
	return b.String()
}

// writeSideBySide writes a table per figure (throughput, latency, server
// CPU a request) with a row per scenario and mode and a column per server.
func writeSideBySide(b *bytes.Buffer, runs []Report) {
	rows := rowKeys(runs)
	figures := []struct {
		title string
		cell  func(*Result) string
	}{
		{"Requests a second (closed loop: the maximum; open loop: the rate achieved)",
			func(r *Result) string { return fmt.Sprintf("%.0f", r.Throughput) }},
		{"Latency, p50 / p99", func(r *Result) string { return msf(r.P50ms) + " / " + msf(r.P99ms) }},
		{"Server CPU a request (all of a server's processes: a node cluster's primary and workers together)", cpuCell},
	}
	for _, f := range figures {
		writeFigure(b, runs, rows, f.title, f.cell)
	}
}

// writeFigure writes one side-by-side table: a row per key, a column per
// server, "–" where a server did not run the row.
func writeFigure(b *bytes.Buffer, runs []Report, rows []rowKey, title string, cell func(*Result) string) {
	fmt.Fprintf(b, "%s:\n\n| scenario | mode |", title)
	for _, run := range runs {
		fmt.Fprintf(b, " %s |", run.Label)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("--:|", len(runs)) + "\n")
	for _, k := range rows {
		fmt.Fprintf(b, "| %s | %s |", k.scenario, k.mode)
		for _, run := range runs {
			c := "–"
			if r := find(runs, run.Label, k.scenario, k.mode); r != nil {
				c = cell(r)
				if r.Errors > 0 {
					c += fmt.Sprintf(" (%d errors)", r.Errors)
				}
			}
			fmt.Fprintf(b, " %s |", c)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// rowKey names a row of the side-by-side tables.
type rowKey struct{ scenario, mode string }

// rowKeys lists the scenarios and modes measured on any server, in the
// order they first appear.
func rowKeys(runs []Report) []rowKey {
	var out []rowKey
	for _, run := range runs {
		for _, r := range run.Results {
			if k := (rowKey{r.Scenario, r.Mode}); !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

func cpuCell(r *Result) string {
	if r.Costs == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", r.Costs.CPUMicros)
}

// writeFull writes every figure of every run, a row per server, scenario
// and mode.
func writeFull(b *bytes.Buffer, runs []Report) {
	b.WriteString("Every figure of the run (SQL and Redis counts from the service's /debug/costs; " +
		"– where a server has no such counters):\n\n")
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
			sql, rt := "–", "–"
			if r.Costs != nil && !r.Costs.CPUOnly {
				sql, rt = fmt.Sprintf("%.3f", r.Costs.SQLStatements), fmt.Sprintf("%.3f", r.Costs.RedisRoundTrips)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %d | %s | %s | %s |\n",
				run.Label, r.Scenario, r.Mode, load, r.Throughput, msf(r.P50ms), msf(r.P90ms), msf(r.P99ms),
				msf(r.MaxMs), r.Errors, sql, rt, cpuCell(&r))
		}
	}
	b.WriteString("\n")
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
