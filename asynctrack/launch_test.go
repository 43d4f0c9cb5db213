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
	require.NotZero(t, goroutineCode, "the compiler lays closures out differently: Go allocates twice again")
	require.NotZero(t, executionCode, "the compiler lays closures out differently: executions allocate twice again")

	var got context.Context
	record := func(ctx context.Context) { got = ctx }
	newGoroutine := func() *goroutine {
		return &goroutine{frame: frame{Context: context.Background(), w: *(*unsafe.Pointer)(unsafe.Pointer(&record))}}
	}
	newExecution := func() *execution {
		return &execution{frame: frame{Context: context.Background(), w: unsafe.Pointer(emptyEnv)}, fn: record}
	}

	g := newGoroutine()
	g.startFunc()()
	assert.Same(t, &g.frame, got, "the goroutine started as a func() runs its own callback")
	assert.Same(t, emptyEnv, g.frame.env(), "and has its env from then on")
	e := newExecution()
	e.startFunc()()
	assert.Same(t, &e.frame, got, "the execution started as a func() runs its own callback")

	gc, ec := goroutineCode, executionCode
	t.Cleanup(func() { goroutineCode, executionCode = gc, ec })
	goroutineCode, executionCode = 0, 0 // as if the layout check had failed: method values
	g = newGoroutine()
	g.startFunc()()
	assert.Same(t, &g.frame, got)
	e = newExecution()
	e.startFunc()()
	assert.Same(t, &e.frame, got)
}

// TestGoAllocatesOnce: with no hook enabled, Go adds one allocation to the
// goroutine it starts. It is a 32-byte goroutine, where the closure header
// is the trampoline alone, when the ctx is Background, a frame or a frame
// made ambient; a ctx that wraps a frame makes it a 48-byte execution.
func TestGoAllocatesOnce(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(goroutine{}), uintptr(maxGoroutineSize))
	assert.LessOrEqual(t, unsafe.Sizeof(execution{}), uintptr(maxExecutionSize))
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	type key struct{}
	store := NewStore[string]()
	store.Run(context.Background(), "v", func(frameCtx context.Context) {
		goroutineClass, executionClass := sizeClass(unsafe.Sizeof(goroutine{})), sizeClass(unsafe.Sizeof(execution{}))
		for _, c := range []struct {
			name  string
			ctx   context.Context
			class uint64
		}{
			{"background", context.Background(), goroutineClass},
			{"frame", frameCtx, goroutineClass},
			{"wrapped frame", context.WithValue(frameCtx, key{}, 1), executionClass},
		} {
			var wg sync.WaitGroup
			done := func(context.Context) { wg.Done() }
			spawn := func() {
				wg.Add(1)
				Go(c.ctx, done)
				wg.Wait()
			}
			assert.Equal(t, 1.0, testing.AllocsPerRun(1000, spawn), c.name)
			// Bytes as AllocsPerRun counts allocations: now and then the
			// runtime makes a new goroutine descriptor, far less than the
			// next size class per run.
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 1000 {
				spawn()
			}
			runtime.ReadMemStats(&after)
			perRun := (after.TotalAlloc - before.TotalAlloc) / 1000
			assert.GreaterOrEqual(t, perRun, c.class, c.name)
			assert.Less(t, perRun, c.class+8, c.name)
		}
	})
}

// sizeClass returns the allocator's size class for n bytes, up to 64.
func sizeClass(n uintptr) uint64 {
	for _, c := range []uint64{8, 16, 24, 32, 48, 64} {
		if uint64(n) <= c {
			return c
		}
	}
	panic("no size class this small")
}

// TestStartedGoroutineSurvivesStackGrowthAndGC: a goroutine entered through
// the closure header grows its stack many times over and collects garbage
// while its goroutine is reachable only from its own frames; its ctx must
// still be its own afterwards, ID and env included.
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
