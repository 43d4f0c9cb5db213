package asynctrack

import (
	"context"
	"runtime"
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
// execution, to the goroutine it starts: 48 bytes where the closure header
// is the trampoline alone.
func TestGoAllocatesOnce(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(execution{}), uintptr(maxExecutionSize))
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

// TestStartedGoroutineSurvivesStackGrowthAndGC: a goroutine entered through
// the closure header grows its stack many times over and collects garbage
// while its execution is reachable only from its own frames; its ctx must
// still be its own afterwards.
func TestStartedGoroutineSurvivesStackGrowthAndGC(t *testing.T) {
	store := NewStore[string]()
	type result struct {
		before, after uint64
		value         string
		depth         int
	}
	got := make(chan result, 1)
	store.Run(context.Background(), "kept", func(ctx context.Context) {
		Go(ctx, func(ctx context.Context) {
			r := result{before: ExecutionID(ctx)}
			r.depth = recurse(10_000)
			runtime.GC()
			r.after = ExecutionID(ctx)
			r.value, _ = store.Value(ctx)
			got <- r
		})
	})
	r := <-got
	assert.NotZero(t, r.before)
	assert.Equal(t, r.before, r.after)
	assert.Equal(t, "kept", r.value)
	assert.Equal(t, 10_000, r.depth)
}

// recurse uses about 100 bytes of stack per level, and a GC halfway down.
//
//go:noinline
func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = 1
	if n == 5_000 {
		runtime.GC()
	}
	if n == 0 {
		return 0
	}
	return recurse(n-1) + int(pad[n%64])
}
