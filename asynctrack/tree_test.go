package asynctrack

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTriggerTree follows one request through every kind of hop:
// goroutine -> timer -> pool task -> plain go -> goroutine. Each resource's
// trigger must be the execution that created it, also across the plain go
// statement, which carries no ctx.
func TestTriggerTree(t *testing.T) {
	requireAmbient(t)
	rec := newRecorder(t)
	pool := NewPool(context.Background(), 2)
	defer pool.Close()
	req := NewResource(context.Background(), TypeHTTPRequest, nil)
	defer req.Destroy()

	type ids struct{ goroutine, timer, task, plain, plainTrigger, last, lastTrigger uint64 }
	got := make(chan ids, 1)
	req.Run(func(ctx context.Context) {
		Go(ctx, func(ctx context.Context) {
			var v ids
			v.goroutine = ExecutionID(ctx)
			AfterFunc(ctx, time.Millisecond, func(ctx context.Context) {
				v.timer = ExecutionID(ctx)
				require.NoError(t, pool.Submit(ctx, func(ctx context.Context) {
					v.task = ExecutionID(ctx)
					go func() { // third-party code: no ctx
						v.plain, v.plainTrigger = CurrentExecutionID(), CurrentTriggerID()
						Go(context.Background(), func(ctx context.Context) {
							v.last, v.lastTrigger = ExecutionID(ctx), TriggerID(ctx)
							got <- v
						})
					}()
				}))
			})
		})
	})
	v := <-got
	rec.waitDestroyed(t, v.last)

	trigger := func(id uint64) uint64 {
		e, ok := rec.init(id)
		require.True(t, ok, "no init for %d", id)
		return e.trigger
	}
	assert.Equal(t, req.ID(), trigger(v.goroutine), "goroutine <- request")
	assert.Equal(t, v.goroutine, trigger(v.timer), "timer <- goroutine")
	assert.Equal(t, v.timer, trigger(v.task), "task <- timer")
	assert.Equal(t, v.task, v.plain, "a plain go statement runs in the task's execution")
	assert.Equal(t, v.timer, v.plainTrigger, "and sees the task's trigger")
	assert.Equal(t, v.task, trigger(v.last), "goroutine <- task, through the plain go")
	assert.Equal(t, v.task, v.lastTrigger)
}

// TestTriggerWithoutStoredTrigger: frames find their trigger through their
// Context. Work started, or a scope opened, from a context that carries no
// frame of its own, inside a plain go statement, must still have the ambient
// execution as trigger and keep that context's values; scopes derived from
// an execution keep its trigger.
func TestTriggerWithoutStoredTrigger(t *testing.T) {
	requireAmbient(t)
	type key struct{}
	outer := NewResource(context.Background(), TypeHTTPRequest, nil)
	defer outer.Destroy()
	var inner *Resource
	outer.Run(func(ctx context.Context) { inner = NewResource(ctx, "inner", nil) })
	defer inner.Destroy()
	require.Equal(t, outer.ID(), inner.TriggerID())

	store := NewStore[string]()
	type seen struct {
		id, trigger, runID, runTrigger, storeTrigger uint64
		value                                        any
	}
	got := make(chan seen, 1)
	inner.Run(func(context.Context) {
		go func() { // no ctx here: inner is ambient
			foreign := context.WithValue(context.Background(), key{}, "mine")
			var v seen
			Run(foreign, func(ctx context.Context) {
				v.runID, v.runTrigger = ExecutionID(ctx), TriggerID(ctx)
			})
			Go(foreign, func(ctx context.Context) {
				v.id, v.trigger, v.value = ExecutionID(ctx), TriggerID(ctx), ctx.Value(key{})
				store.Run(ctx, "s", func(ctx context.Context) {
					v.storeTrigger = TriggerID(ctx)
					Run(ctx, func(ctx context.Context) { assert.Equal(t, v.id, ExecutionID(ctx)) })
				})
				got <- v
			})
		}()
	})
	v := <-got
	assert.Equal(t, inner.ID(), v.runID, "Run in a plain go statement derives the ambient execution")
	assert.Equal(t, outer.ID(), v.runTrigger, "and keeps its trigger")
	assert.NotZero(t, v.id)
	assert.Equal(t, inner.ID(), v.trigger, "Go from a foreign ctx is triggered by the ambient execution")
	assert.Equal(t, "mine", v.value, "and keeps the foreign ctx's values")
	assert.Equal(t, inner.ID(), v.storeTrigger, "Store.Run keeps the execution's trigger")
}

// TestNoContextBleed runs 10,000 request scopes, each fanning out into
// nested goroutines, timers, pool tasks and plain go statements. Every piece
// of work checks, through its ctx and without one, that it sees its own
// request's value and execution lineage, and nothing else.
func TestNoContextBleed(t *testing.T) {
	requireAmbient(t)
	const requests = 10_000
	inFlight := requests
	if raceEnabled {
		inFlight = 400 // the race detector allows 8128 live goroutines
	}
	store := NewStore[string]()
	pool := NewPool(context.Background(), 8)
	defer pool.Close()

	var checks, mismatches atomic.Int64
	check := func(want string, ctx context.Context) {
		checks.Add(1)
		if got, ok := store.Value(ctx); !ok || got != want {
			mismatches.Add(1)
		}
	}
	checkAmbient := func(want string) {
		checks.Add(1)
		if got, ok := store.Current(); !ok || got != want {
			mismatches.Add(1)
		}
	}
	sem := make(chan struct{}, inFlight)
	var all sync.WaitGroup
	for i := range requests {
		sem <- struct{}{}
		all.Add(1)
		want := fmt.Sprintf("request-%d", i)
		go func() { // the server's goroutine for this request
			defer func() { <-sem }()
			defer all.Done()
			r := NewResource(context.Background(), TypeHTTPRequest, nil)
			defer r.Destroy()
			var work sync.WaitGroup
			r.Run(func(ctx context.Context) {
				store.Run(ctx, want, func(ctx context.Context) {
					work.Add(1)
					Go(ctx, func(ctx context.Context) {
						defer work.Done()
						check(want, ctx)
						checkAmbient(want)
						work.Add(2)
						Go(ctx, func(ctx context.Context) { // nested
							defer work.Done()
							checkAmbient(want)
						})
						AfterFunc(ctx, time.Duration(i%3)*time.Millisecond, func(ctx context.Context) {
							defer work.Done()
							check(want, ctx)
							work.Add(1)
							if err := pool.Submit(ctx, func(ctx context.Context) {
								defer work.Done()
								checkAmbient(want)
								work.Add(1)
								go func() { // plain go from a task
									defer work.Done()
									checkAmbient(want)
								}()
							}); err != nil {
								work.Done()
								mismatches.Add(1)
							}
						})
					})
					work.Add(1)
					go func() { // plain go from the request
						defer work.Done()
						runtime.Gosched()
						checkAmbient(want)
					}()
				})
			})
			work.Wait()
		}()
	}
	all.Wait()
	assert.Equal(t, int64(requests*7), checks.Load())
	assert.Zero(t, mismatches.Load(), "values seen from another request")
}

// TestNoLeaks completes 1,000,000 tasks with a registry listening: afterwards
// it holds no live entries and the heap is back near its baseline.
func TestNoLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000 tasks")
	}
	reg := NewRegistry().Enable()
	defer reg.Disable()
	store := NewStore[int]()
	pool := NewPool(context.Background(), 4)

	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const tasks = 1_000_000
	var ran atomic.Int64
	g, ctx := NewGroup(context.Background())
	for w := range 4 {
		g.Go(func(ctx context.Context) error {
			var err error
			store.Run(ctx, w, func(ctx context.Context) {
				for range tasks / 4 {
					if err = pool.Submit(ctx, func(context.Context) { ran.Add(1) }); err != nil {
						return
					}
				}
			})
			return err
		})
	}
	require.NoError(t, g.Wait())
	_ = ctx
	pool.Close()
	assert.Equal(t, int64(tasks), ran.Load())
	assert.Zero(t, reg.Len(), "live entries after every task completed: %v", reg.CountByType())
	after := heap()
	const slack = 4 << 20
	assert.Less(t, after, before+slack, "heap grew from %d to %d bytes", before, after)
}
