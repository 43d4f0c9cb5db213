package asynctrack

import (
	"context"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartClosureLayout(t *testing.T) {
	require.NotZero(t, startCode, "the compiler lays closures out differently: Go allocates twice again")

	var got context.Context
	e := &execution{frame: frame{env: emptyEnv}, fn: func(ctx context.Context) { got = ctx }}
	e.startFunc()()
	assert.Same(t, &e.frame, got, "the execution started as a func() runs its own callback")

	code := startCode
	t.Cleanup(func() { startCode = code })
	startCode = 0 // as if the layout check had failed: the method value
	e = &execution{frame: frame{env: emptyEnv}, fn: func(ctx context.Context) { got = ctx }}
	e.startFunc()()
	assert.Same(t, &e.frame, got)
}

// TestGoAllocatesOnce: with no hook enabled, Go adds one allocation, the
// execution, to the goroutine it starts, and it fits a cache line.
func TestGoAllocatesOnce(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(execution{}), uintptr(64))
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	var wg sync.WaitGroup
	done := func(context.Context) { wg.Done() }
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		wg.Add(1)
		Go(ctx, done)
		wg.Wait()
	})
	assert.Equal(t, 1.0, allocs)
}
