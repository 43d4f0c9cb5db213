// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelctx/otelctx/internal/report"
)

var lifecycle = []string{"init", "before", "after", "destroy"}

func TestLifecycleGoroutine(t *testing.T) {
	rec := newRecorder(t)
	ids := make(chan uint64, 1)
	Go(context.Background(), func(ctx context.Context) { ids <- ExecutionID(ctx) })
	id := <-ids
	assert.Equal(t, lifecycle, rec.waitDestroyed(t, id))
	e, ok := rec.init(id)
	require.True(t, ok)
	assert.Equal(t, TypeGoroutine, e.typ)
}

func TestLifecycleTimer(t *testing.T) {
	rec := newRecorder(t)

	t.Run("fired", func(t *testing.T) {
		ids := make(chan uint64, 1)
		tm := AfterFunc(context.Background(), time.Millisecond, func(ctx context.Context) { ids <- ExecutionID(ctx) })
		id := <-ids
		assert.Equal(t, tm.ID(), id)
		assert.Equal(t, lifecycle, rec.waitDestroyed(t, id))
		assert.False(t, tm.Stop(), "Stop after the timer fired")
		assert.Equal(t, lifecycle, rec.kinds(id), "a late Stop destroys nothing")
		e, _ := rec.init(id)
		assert.Equal(t, TypeTimer, e.typ)
		assert.Contains(t, runtime.FuncForPC(reflect.ValueOf(e.value).Pointer()).Name(), "TestLifecycleTimer", "the resource value is the callback")
	})

	t.Run("stopped", func(t *testing.T) {
		tm := AfterFunc(context.Background(), time.Hour, func(context.Context) { t.Error("stopped timer fired") })
		assert.True(t, tm.Stop())
		assert.False(t, tm.Stop())
		assert.Equal(t, []string{"init", "destroy"}, rec.kinds(tm.ID()))
	})
}

func TestLifecycleTask(t *testing.T) {
	rec := newRecorder(t)
	var ids []uint64
	run := Bind(context.Background(), func(ctx context.Context) { ids = append(ids, ExecutionID(ctx)) })
	run()
	run() // each call is a task of its own
	require.Len(t, ids, 2)
	assert.NotEqual(t, ids[0], ids[1])
	for _, id := range ids {
		assert.Equal(t, lifecycle, rec.kinds(id))
		e, _ := rec.init(id)
		assert.Equal(t, TypeTask, e.typ)
	}
}

func TestLifecycleResource(t *testing.T) {
	rec := newRecorder(t)
	r := NewResource(context.Background(), "db.query", "SELECT 1")
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Run(func(ctx context.Context) { assert.Equal(t, r.ID(), ExecutionID(ctx)) })
		}()
	}
	wg.Wait()
	r.Destroy()
	r.Destroy()
	r.Run(func(ctx context.Context) {
		assert.Equal(t, r.ID(), ExecutionID(ctx), "Run after Destroy still runs in scope")
	})

	k := rec.kinds(r.ID())
	assert.Equal(t, "init", k[0])
	assert.Equal(t, "destroy", k[len(k)-1])
	assert.Len(t, k, 8, "init, 3 x before/after, destroy: %v", k)
	e, _ := rec.init(r.ID())
	assert.Equal(t, "db.query", e.typ)
	assert.Equal(t, "SELECT 1", e.value)
}

func TestLifecycleResourceDestroyWaitsForRuns(t *testing.T) {
	rec := newRecorder(t)
	r := NewResource(context.Background(), "job", nil)
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(func(context.Context) { close(started); <-release })
	}()
	<-started
	r.Destroy()
	assert.Equal(t, []string{"init", "before"}, rec.kinds(r.ID()), "Destroy waits for the run in flight")
	close(release)
	<-done
	assert.Equal(t, lifecycle, rec.kinds(r.ID()))
}

func TestLifecycleResourceDestroyedByGC(t *testing.T) {
	rec := newRecorder(t)
	const n = 100
	ids := make(map[uint64]bool)
	for range n {
		ids[NewResource(context.Background(), "leaked", nil).ID()] = true
	}
	destroyed := func() int {
		c := 0
		for id := range ids {
			if len(rec.kinds(id)) == 2 {
				c++
			}
		}
		return c
	}
	deadline := time.Now().Add(10 * time.Second)
	for destroyed() < n && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	assert.Equal(t, n, destroyed())
	for id := range ids {
		assert.Equal(t, []string{"init", "destroy"}, rec.kinds(id))
	}
}

func TestHookReceivesOnlyWhatItSawInit(t *testing.T) {
	started, release := make(chan uint64), make(chan struct{})
	Go(context.Background(), func(ctx context.Context) {
		started <- ExecutionID(ctx)
		<-release
	})
	id := <-started
	rec := newRecorder(t) // enabled after the goroutine's Init
	close(release)
	Go(context.Background(), func(ctx context.Context) { started <- ExecutionID(ctx) })
	later := <-started
	rec.waitDestroyed(t, later)
	assert.Empty(t, rec.kinds(id))
}

func TestHookToggledWhileWorkRuns(t *testing.T) {
	var inits, destroys, befores, afters atomic.Int64
	seen := sync.Map{} // ids whose Init the hook saw
	h := NewHook(HookFuncs{
		Init: func(_ context.Context, id uint64, _ string, _ uint64, _ any) {
			seen.Store(id, true)
			inits.Add(1)
		},
		Before: func(id uint64) {
			_, ok := seen.Load(id)
			assert.True(t, ok, "Before without Init")
			befores.Add(1)
		},
		After: func(uint64) { afters.Add(1) },
		Destroy: func(id uint64) {
			_, ok := seen.Load(id)
			assert.True(t, ok, "Destroy without Init")
			destroys.Add(1)
		},
	})
	stop := make(chan struct{})
	var toggler sync.WaitGroup
	toggler.Add(1)
	go func() {
		defer toggler.Done()
		for {
			select {
			case <-stop:
				h.Enable() // end enabled, so every resource it saw is destroyed while it listens
				return
			default:
				h.Enable()
				runtime.Gosched()
				h.Disable()
			}
		}
	}()
	g, ctx := NewGroup(context.Background())
	g.SetLimit(64)
	for range 5000 {
		g.Go(func(ctx context.Context) error {
			Bind(ctx, func(context.Context) {})()
			return nil
		})
	}
	require.NoError(t, g.Wait())
	_ = ctx
	close(stop)
	toggler.Wait()
	h.Disable()
	assert.Positive(t, inits.Load())
	assert.LessOrEqual(t, destroys.Load(), inits.Load())
	assert.LessOrEqual(t, afters.Load(), befores.Load())
}

func TestPanickingHook(t *testing.T) {
	var reported []error
	var mu sync.Mutex
	report.SetHandler(func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	})
	t.Cleanup(func() { report.SetHandler(nil) })
	resetPanics(t, time.Now)

	bad := NewHook(HookFuncs{
		Init:    func(context.Context, uint64, string, uint64, any) { panic("init boom") },
		Before:  func(uint64) { panic("before boom") },
		After:   func(uint64) { panic("after boom") },
		Destroy: func(uint64) { panic("destroy boom") },
	}).Enable()
	defer bad.Disable()
	rec := newRecorder(t)

	ran := false
	run := Bind(context.Background(), func(context.Context) { ran = true })
	run()
	assert.True(t, ran, "the tracked work still runs")
	rec.mu.Lock()
	id := rec.events[0].id
	rec.mu.Unlock()
	assert.Equal(t, lifecycle, rec.kinds(id), "the other hooks still get every event")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, reported, 4)
	for i, event := range []string{"Init", "Before", "After", "Destroy"} {
		assert.ErrorContains(t, reported[i], event+" hook panicked")
		assert.ErrorContains(t, reported[i], strings.ToLower(event)+" boom")
	}
}

func TestPanickingCallbackStillEmitsAfterAndDestroy(t *testing.T) {
	rec := newRecorder(t)
	var id uint64
	run := Bind(context.Background(), func(ctx context.Context) {
		id = ExecutionID(ctx)
		panic("callback boom")
	})
	assert.PanicsWithValue(t, "callback boom", run)
	assert.Equal(t, lifecycle, rec.kinds(id))

	r := NewResource(context.Background(), "job", nil)
	assert.PanicsWithError(t, "run boom", func() {
		r.Run(func(context.Context) { panic(errors.New("run boom")) })
	})
	r.Destroy()
	assert.Equal(t, lifecycle, rec.kinds(r.ID()))
}

// TestHooksChangedSinceParent starts goroutines from contexts made before a
// hook was enabled: a goroutine then cannot share its parent's env, whose
// hooks are stale, and must still send every event to exactly the hooks
// enabled when it starts, with its parent's values and trigger.
func TestHooksChangedSinceParent(t *testing.T) {
	store := NewStore[string]()
	// Contexts of Store.Run, whose goroutines share its scope rather than
	// opening their own.
	var ctx context.Context
	store.Run(context.Background(), "v", func(c context.Context) { ctx = c })
	parentID := ExecutionID(ctx)
	require.Zero(t, parentID, "a Store.Run from Background belongs to no resource")

	// No hook when the parent was made, one now.
	rec := newRecorder(t)
	id, v := goAndWait(t, ctx, store)
	assert.Equal(t, lifecycle, rec.waitDestroyed(t, id))
	assert.Equal(t, "v", v)
	e, ok := rec.init(id)
	require.True(t, ok)
	assert.Equal(t, parentID, e.trigger)

	// One hook when the parent was made, two now.
	var withOne context.Context
	store.Run(ctx, "w", func(c context.Context) { withOne = c })
	rec2 := newRecorder(t)
	id, v = goAndWait(t, withOne, store)
	assert.Equal(t, lifecycle, rec.waitDestroyed(t, id))
	assert.Equal(t, lifecycle, rec2.waitDestroyed(t, id))
	assert.Equal(t, "w", v)
}

// goAndWait runs Go from ctx and returns the goroutine's execution ID and the
// value store holds in it, from its ctx and ambiently, which must agree.
func goAndWait(t *testing.T, ctx context.Context, store *Store[string]) (uint64, string) {
	t.Helper()
	var id uint64
	var fromCtx, ambient string
	done := make(chan struct{})
	Go(ctx, func(ctx context.Context) {
		defer close(done)
		id = ExecutionID(ctx)
		fromCtx, _ = store.Value(ctx)
		ambient = fromCtx
		if ambientSupported {
			ambient, _ = store.Current()
		}
	})
	<-done
	assert.Equal(t, fromCtx, ambient)
	return id, fromCtx
}

// resetPanics gives the panic reporter a fresh state and clock for t.
func resetPanics(t *testing.T, now func() time.Time) {
	t.Helper()
	panics, panicsNow = [numEvents]report.Bound{}, now
	t.Cleanup(func() { panics, panicsNow = [numEvents]report.Bound{}, time.Now })
}

func TestHookPanicReportsAreRateLimited(t *testing.T) {
	var mu sync.Mutex
	var reported []*hookPanicError
	report.SetHandler(func(err error) {
		var hp *hookPanicError
		require.ErrorAs(t, err, &hp)
		mu.Lock()
		reported = append(reported, hp)
		mu.Unlock()
	})
	t.Cleanup(func() { report.SetHandler(nil) })
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	resetPanics(t, func() time.Time { return clock })

	h := NewHook(HookFuncs{Before: func(uint64) { panic("before boom") }}).Enable()
	defer h.Disable()
	run := Bind(context.Background(), func(context.Context) {})
	for range 5 {
		run()
	}
	clock = clock.Add(report.Interval)
	run()

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, reported, 2, "the first at once, the rest once per interval")
	assert.Equal(t, int64(1), reported[0].count)
	assert.Equal(t, int64(5), reported[1].count, "the second report stands for the panics held back")
	assert.Equal(t, "Before", reported[1].event)
	assert.ErrorContains(t, reported[1], "panicked 5 times")
}

// TestHookEnabled: Enabled says whether the hook receives events, and a
// Timer stopped before it fires is destroyed without running.
func TestHookEnabled(t *testing.T) {
	var destroyed atomic.Int64
	h := NewHook(HookFuncs{Destroy: func(uint64) { destroyed.Add(1) }})
	assert.False(t, h.Enabled())
	h.Enable()
	assert.True(t, h.Enabled())
	var timer *Timer = AfterFunc(context.Background(), time.Hour, func(context.Context) { t.Error("a stopped timer ran") })
	assert.NotZero(t, timer.ID())
	assert.True(t, timer.Stop())
	h.Disable()
	assert.False(t, h.Enabled())
	assert.EqualValues(t, 1, destroyed.Load())
}
