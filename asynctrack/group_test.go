// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGroupCancelsOnFirstError(t *testing.T) {
	g, ctx := NewGroup(context.Background())
	errBoom := errors.New("boom")
	g.Go(func(context.Context) error { return errBoom })
	g.Go(func(ctx context.Context) error {
		<-ctx.Done() // the group's goroutines see the cancellation
		return ctx.Err()
	})
	assert.ErrorIs(t, g.Wait(), errBoom)
	assert.ErrorIs(t, context.Cause(ctx), errBoom)
}

func TestGroupTracksGoroutines(t *testing.T) {
	rec := newRecorder(t)
	r := NewResource(context.Background(), "batch", nil)
	defer r.Destroy()
	var ids [3]atomic.Uint64
	r.Run(func(ctx context.Context) {
		g, _ := NewGroup(ctx)
		for i := range ids {
			g.Go(func(ctx context.Context) error {
				ids[i].Store(ExecutionID(ctx))
				return nil
			})
		}
		require.NoError(t, g.Wait())
	})
	for i := range ids {
		id := ids[i].Load()
		assert.Equal(t, lifecycle, rec.waitDestroyed(t, id))
		e, _ := rec.init(id)
		assert.Equal(t, r.ID(), e.trigger)
	}
}

// TestZeroGroupStartsFromTheAmbientScope: a zero Group's goroutines carry
// what a plain go statement on the calling goroutine would, in their ctx and
// ambiently, and nothing outside any scope.
func TestZeroGroupStartsFromTheAmbientScope(t *testing.T) {
	requireAmbient(t)
	s := NewStore[string]()
	var g Group
	var caller uint64
	got := make(chan string, 4)
	s.Run(context.Background(), "request", func(ctx context.Context) {
		caller = ExecutionID(ctx)
		g.Go(func(ctx context.Context) error {
			got <- value(s.Value(ctx))
			got <- value(s.Current())
			assert.Equal(t, caller, TriggerID(ctx), "triggered by the caller's execution")
			return nil
		})
		require.NoError(t, g.Wait())
	})
	g.Go(func(ctx context.Context) error { // outside any scope: a root
		got <- value(s.Value(ctx))
		got <- value(s.Current())
		assert.Zero(t, TriggerID(ctx))
		return nil
	})
	require.NoError(t, g.Wait())
	close(got)
	var all []string
	for v := range got {
		all = append(all, v)
	}
	assert.Equal(t, []string{"request", "request", "", ""}, all)
}

func TestGroupLimit(t *testing.T) {
	var g Group // the zero Group is valid
	g.SetLimit(2)
	var active, peak atomic.Int64
	for range 20 {
		g.Go(func(context.Context) error {
			n := active.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			active.Add(-1)
			return nil
		})
	}
	require.NoError(t, g.Wait())
	assert.LessOrEqual(t, peak.Load(), int64(2))
	assert.Positive(t, peak.Load())
}

func TestGroupTryGo(t *testing.T) {
	var g Group
	g.SetLimit(1)
	release := make(chan struct{})
	require.True(t, g.TryGo(func(context.Context) error { <-release; return nil }))
	assert.False(t, g.TryGo(func(context.Context) error { return nil }), "over the limit")
	close(release)
	require.NoError(t, g.Wait())
	assert.True(t, g.TryGo(func(context.Context) error { return nil }))
	require.NoError(t, g.Wait())
}

func TestPoolWorkerBetweenTasksIsItself(t *testing.T) {
	requireAmbient(t)
	s := NewStore[string]()
	pool := NewPool(context.Background(), 1)
	defer pool.Close()

	var task, between uint64
	done := make(chan struct{})
	s.Run(context.Background(), "submitter", func(ctx context.Context) {
		require.NoError(t, pool.Submit(ctx, func(ctx context.Context) {
			task = ExecutionID(ctx)
			assert.Equal(t, task, ExecutionID(Ambient()), "during the task the worker is the task")
			assert.Equal(t, "submitter", value(s.Current()))
		}))
	})
	require.NoError(t, pool.Submit(context.Background(), func(context.Context) {
		// A task from a ctx with no execution: its trigger is the submitter's
		// ambient execution (none here), and nothing of the last task remains.
		between = TriggerID(Ambient())
		_, ok := s.Current()
		assert.False(t, ok, "the last task's values stayed on the worker")
		close(done)
	}))
	<-done
	assert.NotZero(t, task)
	assert.Zero(t, between)
}

func TestPoolSubmitErrors(t *testing.T) {
	rec := newRecorder(t)
	pool := NewPool(context.Background(), 1)
	started, block := make(chan struct{}), make(chan struct{})
	require.NoError(t, pool.Submit(context.Background(), func(context.Context) { close(started); <-block }))
	<-started // its events are recorded: those counted below are the refused task's only

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec.mu.Lock()
	before := len(rec.events)
	rec.mu.Unlock()
	err := pool.Submit(ctx, func(context.Context) { t.Error("ran after its ctx was done") })
	assert.ErrorIs(t, err, context.Canceled)
	rec.mu.Lock()
	assert.Len(t, rec.events, before, "a task refused for its done ctx is never a resource")
	rec.mu.Unlock()

	close(block)
	pool.Close()
	pool.Close()
	assert.ErrorIs(t, pool.Submit(context.Background(), func(context.Context) {}), ErrPoolClosed)
}

func TestBindRunsWithSubmitterContext(t *testing.T) {
	requireAmbient(t)
	s := NewStore[int]()
	queue := make(chan func(), 1)
	s.Run(context.Background(), 42, func(ctx context.Context) {
		queue <- Bind(ctx, func(ctx context.Context) {
			assert.Equal(t, 42, value(s.Value(ctx)))
			assert.Equal(t, 42, value(s.Current()))
		})
	})
	done := make(chan struct{})
	go func() { // a long-lived goroutine from before the request
		defer close(done)
		(<-queue)()
		_, ok := s.Current()
		assert.False(t, ok, "the task's values stayed after it")
	}()
	<-done
}

func TestPoolCloseWhileTasksSubmitToTheirPool(t *testing.T) {
	pool := NewPool(context.Background(), 2)
	var nested atomic.Int64
	outcome := make(chan error, 1)
	require.NoError(t, pool.Submit(context.Background(), func(ctx context.Context) {
		for {
			if err := pool.Submit(ctx, func(context.Context) { nested.Add(1) }); err != nil {
				outcome <- err
				return
			}
		}
	}))
	require.Eventually(t, func() bool { return nested.Load() > 0 }, 5*time.Second, time.Millisecond)
	pool.Close() // must not deadlock with the task's own submissions
	assert.ErrorIs(t, <-outcome, ErrPoolClosed)
}

// TestPoolTaskSubmitsToItsOwnSingleWorkerPool: Submit never waits for a
// worker, so a task may queue work on its own pool, even with one worker.
func TestPoolTaskSubmitsToItsOwnSingleWorkerPool(t *testing.T) {
	pool := NewPool(context.Background(), 1)
	defer pool.Close()
	ran := make(chan int, 3)
	require.NoError(t, pool.Submit(context.Background(), func(ctx context.Context) {
		for i := range 3 {
			assert.NoError(t, pool.Submit(ctx, func(context.Context) { ran <- i }))
		}
	}))
	var got []int
	for range 3 {
		select {
		case i := <-ran:
			got = append(got, i)
		case <-time.After(10 * time.Second):
			t.Fatalf("nested tasks stuck; ran %v", got)
		}
	}
	assert.Equal(t, []int{0, 1, 2}, got, "in submission order")
}
