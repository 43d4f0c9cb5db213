// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package registry

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelctx/otelctx/asynctrack"
)

// TestRegistryDoesNotKeepResourcesAlive: a Resource whose value points back
// to it is still collected with a Registry enabled, and destroyed.
func TestRegistryDoesNotKeepResourcesAlive(t *testing.T) {
	reg := New().Enable()
	defer reg.Disable()
	var mu sync.Mutex
	jobs := map[uint64]bool{} // id -> destroyed; a hook that keeps no value
	counter := asynctrack.NewHook(asynctrack.HookFuncs{
		Init: func(_ context.Context, id uint64, typ string, _ uint64, _ any) {
			if typ == "job" {
				mu.Lock()
				jobs[id] = false
				mu.Unlock()
			}
		},
		Destroy: func(id uint64) {
			mu.Lock()
			if _, ok := jobs[id]; ok {
				jobs[id] = true
			}
			mu.Unlock()
		},
	}).Enable()
	defer counter.Disable()
	type holder struct{ r *asynctrack.Resource }
	const n = 1000
	func() {
		for range n {
			h := &holder{}
			h.r = asynctrack.NewResource(context.Background(), "job", h)
		}
	}()
	destroyed := func() int {
		mu.Lock()
		defer mu.Unlock()
		c := 0
		for _, d := range jobs {
			if d {
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
	assert.Equal(t, n, destroyed(), "resources destroyed once collected")
	require.Zero(t, reg.CountByType()["job"], "the registry lists none of them")
}

// TestNoLeaks completes 1,000,000 tasks with a registry listening: afterwards
// it holds no live entries and the heap is back near its baseline.
func TestNoLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000 tasks")
	}
	reg := New().Enable()
	defer reg.Disable()
	store := asynctrack.NewStore[int]()
	pool := asynctrack.NewPool(context.Background(), 4)

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
	// The pool's queue has no bound; the submitters keep at most 1024 tasks
	// in flight, as a server bounds its requests.
	inFlight := make(chan struct{}, 1024)
	g, _ := asynctrack.NewGroup(context.Background())
	for w := range 4 {
		g.Go(func(ctx context.Context) error {
			var err error
			store.Run(ctx, w, func(ctx context.Context) {
				for range tasks / 4 {
					inFlight <- struct{}{}
					if err = pool.Submit(ctx, func(context.Context) { ran.Add(1); <-inFlight }); err != nil {
						return
					}
				}
			})
			return err
		})
	}
	require.NoError(t, g.Wait())
	pool.Close()
	assert.Equal(t, int64(tasks), ran.Load())
	assert.Zero(t, reg.Len(), "live entries after every task completed: %v", reg.CountByType())
	after := heap()
	const slack = 4 << 20
	assert.Less(t, after, before+slack, "heap grew from %d to %d bytes", before, after)
}
