//go:build race

package app

// raceEnabled: the race detector multiplies what allocations cost in memory.
const raceEnabled = true
