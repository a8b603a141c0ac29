package main

import (
	"os"

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

// barPanel is one grouped bar chart: a group per scenario, a bar per run.
func barPanel(runs []Report, title, unit, mode string, value func(*Result) float64) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	p.Legend.Top = true
	width := vg.Points(16)
	for i, run := range runs {
		vals := make(plotter.Values, len(scenarios))
		for j, s := range scenarios {
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
		p.Legend.Add(run.Label, bars)
	}
	p.NominalX(scenarios...)
	return p
}
