//go:build race

package main

// raceEnabled: the race detector multiplies what allocations cost in memory.
const raceEnabled = true
