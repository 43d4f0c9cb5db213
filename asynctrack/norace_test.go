//go:build !race

package asynctrack

const raceEnabled = false
