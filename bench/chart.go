package main

import (
	"fmt"
	"os"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writeChart draws, per scenario, the closed loop's throughput and the p99
// of both loops, one bar per run, as a PNG.
func writeChart(path string, runs []Report) error {
	panels := []*plot.Plot{
		barPanel(runs, "closed loop: requests/s (more is better)", "req/s", "closed",
			func(r *Result) float64 { return r.Throughput }),
		barPanel(runs, "closed loop: p99 latency (less is better)", "ms", "closed",
			func(r *Result) float64 { return r.P99ms }),
		barPanel(runs, "open loop at half the closed loop's rate: p99 latency", "ms", "open",
			func(r *Result) float64 { return r.P99ms }),
	}
	img := vgimg.New(vg.Points(720), vg.Points(900))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Points(12), PadTop: vg.Points(6), PadBottom: vg.Points(6)}
	grid := make([][]*plot.Plot, len(panels))
	for i, p := range panels {
		grid[i] = []*plot.Plot{p}
	}
	canvases := plot.Align(grid, tiles, dc)
	for i, p := range panels {
		p.Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		return err
	}
	return f.Close()
}

// barPanel is one grouped bar chart: a group per scenario measured, a bar
// per run. The floor's bars can dwarf the rest (its throughput, or its
// latency when the open loop outruns the load generator): the Y axis then
// ends a third above the other servers' highest bar, and the floor's
// legend says where its bars were cut.
func barPanel(runs []Report, title, unit, mode string, value func(*Result) float64) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	p.Legend.Top = true
	names := measured(runs)
	width := vg.Points(16)
	var top, floorTop float64
	var legend []string
	var entries []plot.Thumbnailer
	for i, run := range runs {
		vals := make(plotter.Values, len(names))
		for j, s := range names {
			if r := find(runs, run.Label, s, mode); r != nil {
				vals[j] = value(r)
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			continue // no positive value to draw
		}
		bars.Offset = width * vg.Length(2*i-len(runs)+1) / 2
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		p.Add(bars)
		if run.Label == labelFloor {
			floorTop = slices.Max(vals)
		} else {
			top = max(top, slices.Max(vals))
		}
		legend, entries = append(legend, run.Label), append(entries, bars)
	}
	// Headroom above the highest bar keeps the legend clear of the bars.
	cut := top > 0 && floorTop > 1.3*top
	if p.Y.Max = 1.35 * max(top, floorTop); cut {
		p.Y.Max = 1.35 * top // bar charts clip their bars to the data area
	}
	for i, name := range legend {
		if cut && name == labelFloor {
			name = fmt.Sprintf("%s (cut off: up to %.0f %s)", name, floorTop, unit)
		}
		p.Legend.Add(name, entries[i])
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5 // room for the outer groups' bars
	return p
}

// measured lists the scenarios that some run measured, in their order.
func measured(runs []Report) []string {
	var out []string
	for _, s := range scenarios {
		for _, run := range runs {
			if find(runs, run.Label, s, "closed") != nil || find(runs, run.Label, s, "open") != nil {
				out = append(out, s)
				break
			}
		}
	}
	return out
}
