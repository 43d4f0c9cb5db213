//go:build (amd64 || arm64) && !purego

package asynctrack

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTrampolinesAligned: each trampoline starts a 256-byte block, so that
// the runtime's two lookups of a goroutine's start PC scan no other
// function (see launch_amd64.s).
func TestTrampolinesAligned(t *testing.T) {
	assert.Zero(t, goroutineCode%256)
	assert.Zero(t, executionCode%256)
}
