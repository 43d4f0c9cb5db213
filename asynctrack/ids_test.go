// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewIDUnique takes IDs from goroutines spread over every P, each
// through more than one block, and requires every ID to be new and not 0.
func TestNewIDUnique(t *testing.T) {
	const goroutines, each = 16, 3 * 1024
	ids := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	for g := range ids {
		wg.Go(func() {
			for range each {
				ids[g] = append(ids[g], newID())
			}
		})
	}
	wg.Wait()

	seen := make(map[uint64]bool, goroutines*each)
	for _, list := range ids {
		for _, id := range list {
			require.NotZero(t, id)
			require.False(t, seen[id], "ID %d handed out twice", id)
			seen[id] = true
		}
	}
	assert.Len(t, seen, goroutines*each)
}

// TestIDOnFirstAsk: a goroutine started with no hook enabled gets its ID
// when first asked. Goroutines asking at once must all get one ID, and so
// must children asking for their trigger before anyone asked for it.
func TestIDOnFirstAsk(t *testing.T) {
	const rounds, askers = 10_000, 8
	for range rounds {
		f := &newExecution(context.Background(), TypeGoroutine, nil, nil, false).frame // as a goroutine has it
		var own [askers]uint64
		var ready, wg sync.WaitGroup
		start := make(chan struct{})
		for i := range askers {
			ready.Add(1)
			wg.Go(func() {
				ready.Done()
				<-start
				own[i] = ExecutionID(f)
			})
		}
		ready.Wait()
		close(start)
		wg.Wait()
		require.NotZero(t, own[0])
		for _, id := range own {
			require.Equal(t, own[0], id)
		}
	}

	var triggers [2]uint64
	var id uint64
	done := make(chan struct{})
	Go(context.Background(), func(ctx context.Context) {
		defer close(done)
		var wg sync.WaitGroup
		for i := range triggers {
			wg.Add(1)
			Go(ctx, func(child context.Context) {
				defer wg.Done()
				triggers[i] = TriggerID(child)
			})
		}
		wg.Wait()
		id = ExecutionID(ctx)
	})
	<-done
	require.NotZero(t, id)
	assert.Equal(t, [2]uint64{id, id}, triggers)
}

// TestNoResourceMeansZero: frames derived from a context without an
// execution (Run, Store.Run, Store.With from Background) belong to no
// resource. Their execution ID, and the trigger of work they start, is 0
// however often it is asked, never an ID made up on the spot.
func TestNoResourceMeansZero(t *testing.T) {
	store := NewStore[string]()
	with := store.With(context.Background(), "v")
	assert.Zero(t, ExecutionID(with))
	assert.Zero(t, ExecutionID(with), "asked twice")
	assert.Zero(t, TriggerID(with))

	Run(context.Background(), func(ctx context.Context) {
		assert.Zero(t, ExecutionID(ctx))
		assert.Zero(t, ExecutionID(Ambient()))
		assert.Zero(t, TriggerID(ctx))
	})

	rec := newRecorder(t)
	var id, trigger uint64
	store.Run(context.Background(), "v", func(ctx context.Context) {
		assert.Zero(t, ExecutionID(ctx))
		done := make(chan struct{})
		Go(ctx, func(ctx context.Context) {
			defer close(done)
			id, trigger = ExecutionID(ctx), TriggerID(ctx)
		})
		<-done
	})
	require.NotZero(t, id)
	assert.Zero(t, trigger, "started from no resource")
	rec.waitDestroyed(t, id)
	e, ok := rec.init(id)
	require.True(t, ok)
	assert.Zero(t, e.trigger, "and Init says so")
}

// TestIDsOfGoroutinesSharingAnEnv: a goroutine started from a frame shares
// its parent's env, and one asked for its ID gets an env of its own that
// holds it, which its own children then share. Whatever the order of asking,
// every goroutine has an ID of its own, its parent's as trigger, and its
// parent's values, ambient ones included.
func TestIDsOfGoroutinesSharingAnEnv(t *testing.T) {
	requireAmbient(t)
	store := NewStore[string]()
	type seen struct {
		id, trigger    uint64
		value, ambient string
	}
	look := func(ctx context.Context) seen {
		v, _ := store.Value(ctx)
		a, _ := store.Current()
		return seen{id: ExecutionID(ctx), trigger: TriggerID(ctx), value: v, ambient: a}
	}
	req := NewResource(context.Background(), "http.request", nil)
	defer req.Destroy()
	var a, b1, b2, c seen
	done := make(chan struct{})
	req.Run(func(ctx context.Context) {
		store.Run(ctx, "v", func(ctx context.Context) {
			Go(ctx, func(ctx context.Context) {
				defer close(done)
				a = look(ctx) // asked before its children exist
				var wg sync.WaitGroup
				wg.Add(2)
				Go(ctx, func(ctx context.Context) {
					defer wg.Done()
					b1 = look(ctx)
				})
				Go(ctx, func(ctx context.Context) {
					defer wg.Done()
					cDone := make(chan struct{})
					Go(ctx, func(ctx context.Context) { // asks for its trigger before b2 has an ID
						defer close(cDone)
						c = look(ctx)
					})
					<-cDone
					b2 = look(ctx)
				})
				wg.Wait()
			})
		})
	})
	<-done

	for name, s := range map[string]seen{"a": a, "b1": b1, "b2": b2, "c": c} {
		assert.NotZero(t, s.id, name)
		assert.Equal(t, "v", s.value, name)
		assert.Equal(t, "v", s.ambient, name)
	}
	ids := map[uint64]string{req.ID(): "req", a.id: "a", b1.id: "b1", b2.id: "b2", c.id: "c"}
	assert.Len(t, ids, 5, "every goroutine has an ID of its own: %v", ids)
	assert.Equal(t, req.ID(), a.trigger)
	assert.Equal(t, a.id, b1.trigger)
	assert.Equal(t, a.id, b2.trigger)
	assert.Equal(t, b2.id, c.trigger, "b2's ID, taken when c asked for its trigger")
}
