// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

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
// statement, which carries no ctx: while the task waits for it, code there
// sees the task through Ambient.
func TestTriggerTree(t *testing.T) {
	requireAmbient(t)
	rec := newRecorder(t)
	pool := NewPool(context.Background(), 2)
	defer pool.Close()
	req := NewResource(context.Background(), "http.request", nil)
	defer req.Destroy()

	type ids struct{ goroutine, timer, task, plain, plainTrigger, last, lastTrigger, detached uint64 }
	got := make(chan ids, 1)
	req.Run(func(ctx context.Context) {
		Go(ctx, func(ctx context.Context) {
			var v ids
			v.goroutine = ExecutionID(ctx)
			AfterFunc(ctx, time.Millisecond, func(ctx context.Context) {
				v.timer = ExecutionID(ctx)
				require.NoError(t, pool.Submit(ctx, func(ctx context.Context) {
					v.task = ExecutionID(ctx)
					plainDone := make(chan struct{})
					go func() { // third-party code: no ctx
						defer close(plainDone)
						v.plain, v.plainTrigger = ExecutionID(Ambient()), TriggerID(Ambient())
						detached := make(chan uint64, 1)
						Go(context.Background(), func(ctx context.Context) { detached <- TriggerID(ctx) })
						v.detached = <-detached
						Go(Ambient(), func(ctx context.Context) {
							v.last, v.lastTrigger = ExecutionID(ctx), TriggerID(ctx)
							got <- v
						})
					}()
					<-plainDone
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
	assert.Zero(t, v.detached, "Go from context.Background is a root, whatever is ambient")
	assert.Equal(t, v.task, trigger(v.last), "goroutine <- task, through Ambient in the plain go")
	assert.Equal(t, v.task, v.lastTrigger)
}

// TestForeignContextIsARoot: a ctx carries its execution or none, and the
// ctx wins over what is ambient. Work started, or a scope opened, from a
// context without a frame is a root even inside a scope, and keeps that
// context's values; scopes derived from an execution keep its trigger.
func TestForeignContextIsARoot(t *testing.T) {
	requireAmbient(t)
	type key struct{}
	outer := NewResource(context.Background(), "http.request", nil)
	defer outer.Destroy()
	var inner *Resource
	outer.Run(func(ctx context.Context) { inner = NewResource(ctx, "inner", nil) })
	defer inner.Destroy()
	require.Equal(t, outer.ID(), inner.TriggerID())

	store := NewStore[string]()
	type seen struct {
		ambient, runID, runAmbient, id, trigger, storeTrigger uint64
		value                                                 any
	}
	got := make(chan seen, 1)
	inner.Run(func(ctx context.Context) {
		foreign := context.WithValue(context.Background(), key{}, "mine")
		var v seen
		v.ambient = ExecutionID(Ambient())
		Run(foreign, func(ctx context.Context) {
			v.runID, v.runAmbient = ExecutionID(ctx), ExecutionID(Ambient())
		})
		Go(foreign, func(ctx context.Context) {
			v.id, v.trigger, v.value = ExecutionID(ctx), TriggerID(ctx), ctx.Value(key{})
			store.Run(ctx, "s", func(ctx context.Context) {
				v.storeTrigger = TriggerID(ctx)
				Run(ctx, func(ctx context.Context) { assert.Equal(t, v.id, ExecutionID(ctx)) })
			})
			got <- v
		})
	})
	v := <-got
	assert.Equal(t, inner.ID(), v.ambient)
	assert.Zero(t, v.runID, "Run from a foreign ctx is in no execution")
	assert.Zero(t, v.runAmbient, "and hides the ambient one")
	assert.NotZero(t, v.id)
	assert.Zero(t, v.trigger, "Go from a foreign ctx is a root")
	assert.Equal(t, "mine", v.value, "and keeps the foreign ctx's values")
	assert.Zero(t, v.storeTrigger, "Store.Run keeps the execution's trigger")
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

	// wrong counts another request's value, seen anywhere; missing counts
	// no value where the request's work is tracked or its scope still open.
	var checks, wrong, missing atomic.Int64
	tally := func(want, got string, ok, required bool) {
		checks.Add(1)
		switch {
		case ok && got != want:
			wrong.Add(1)
		case !ok && required:
			missing.Add(1)
		}
	}
	check := func(want string, ctx context.Context) {
		got, ok := store.Value(ctx)
		tally(want, got, ok, true)
	}
	checkAmbient := func(want string) {
		got, ok := store.Current()
		tally(want, got, ok, true)
	}
	// A plain go statement may outlive the Run that started it, and then
	// sees nothing.
	checkPlain := func(want string) {
		got, ok := store.Current()
		tally(want, got, ok, false)
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
			r := NewResource(context.Background(), "http.request", nil)
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
									checkPlain(want)
								}()
							}); err != nil {
								work.Done()
								missing.Add(1)
							}
						})
					})
					work.Add(1)
					go func() { // plain go from the request
						defer work.Done()
						runtime.Gosched()
						checkPlain(want)
					}()
				})
			})
			work.Wait()
		}()
	}
	all.Wait()
	assert.Equal(t, int64(requests*7), checks.Load())
	assert.Zero(t, wrong.Load(), "values seen from another request")
	assert.Zero(t, missing.Load(), "tracked work that lost its request's values")
}
