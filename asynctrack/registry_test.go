// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegistryShowsLeakedGoroutineWithItsChain(t *testing.T) {
	reg := NewRegistry().Enable()
	defer reg.Disable()
	release := make(chan struct{})
	leaked := make(chan uint64, 1)

	req := NewResource(context.Background(), "http.request", "GET /users")
	req.Run(func(ctx context.Context) {
		Go(ctx, func(ctx context.Context) {
			Go(ctx, func(ctx context.Context) { // the request forgets this one
				leaked <- ExecutionID(ctx)
				<-release
			})
		})
	})
	req.Destroy()
	id := <-leaked

	var found *LiveResource
	require.Eventually(t, func() bool {
		found = nil
		for _, r := range live(reg) {
			if r.ID == id {
				found = &r
			}
		}
		return found != nil && len(found.Triggers) == 2 && !found.Triggers[0].Live
	}, 5*time.Second, time.Millisecond, "the leaked goroutine with its chain")
	assert.Equal(t, TypeGoroutine, found.Type)
	assert.Equal(t, TypeGoroutine, found.Triggers[0].Type)
	assert.Equal(t, req.ID(), found.Triggers[1].ID)
	assert.Equal(t, "http.request", found.Triggers[1].Type)
	assert.False(t, found.Triggers[1].Live, "the request is over")
	assert.GreaterOrEqual(t, reg.CountByType()[TypeGoroutine], 1)

	close(release)
	assert.Eventually(t, func() bool {
		for _, r := range live(reg) {
			if r.ID == id {
				return false
			}
		}
		return true
	}, 5*time.Second, time.Millisecond)
}

func TestRegistryDisableForgets(t *testing.T) {
	reg := NewRegistry().Enable()
	r := NewResource(context.Background(), "held", nil)
	assert.Equal(t, 1, reg.CountByType()["held"])
	reg.Disable()
	assert.Zero(t, reg.Len())
	r.Destroy()
	reg.Enable()
	defer reg.Disable()
	assert.Zero(t, reg.Len(), "a resource from before the re-enable is not recorded")
}

// TestRegistryLiveInCreationOrder: IDs from different CPUs' blocks do not
// follow creation order, so Live orders by creation time first.
func TestRegistryLiveInCreationOrder(t *testing.T) {
	reg := NewRegistry() // never enabled: the records come from its Init
	for _, id := range []uint64{3000, 1000, 2000} {
		reg.init(context.Background(), id, "block", 0, nil)
		time.Sleep(time.Millisecond) // distinct creation times on any clock
	}
	var ids []uint64
	for _, r := range live(reg) {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []uint64{3000, 1000, 2000}, ids)
}

// TestRegistryFuncs: an owner's data lives in the registry's records, and
// every resource ends in exactly one of Destroy or Drop.
func TestRegistryFuncs(t *testing.T) {
	type data struct{ typ string }
	var mu sync.Mutex
	destroyed, dropped := map[uint64]bool{}, map[uint64]bool{}
	events := 0
	reg := NewRegistry(RegistryFuncs{
		Init: func(_ context.Context, r LiveResource) any {
			assert.False(t, r.Created.IsZero())
			assert.NotZero(t, r.ID)
			return &data{r.Type}
		},
		Before: func(_ uint64, d any) { mu.Lock(); events++; mu.Unlock(); assert.NotNil(t, d) },
		Destroy: func(id uint64, created time.Time, d any) {
			mu.Lock()
			defer mu.Unlock()
			destroyed[id] = true
			assert.Equal(t, "done", d.(*data).typ)
		},
		Drop: func(id uint64, d any) {
			mu.Lock()
			defer mu.Unlock()
			dropped[id] = true
			assert.Equal(t, "open", d.(*data).typ)
		},
	}).Enable()
	done := NewResource(context.Background(), "done", nil)
	open := NewResource(context.Background(), "open", nil)
	d, ok := reg.Data(open.ID())
	require.True(t, ok)
	assert.Equal(t, "open", d.(*data).typ)
	done.Run(func(context.Context) {})
	done.Destroy()
	assert.True(t, reg.Enabled())
	reg.Disable()
	assert.False(t, reg.Enabled())
	open.Destroy() // after Disable: no second ending

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[uint64]bool{done.ID(): true}, destroyed)
	assert.Equal(t, map[uint64]bool{open.ID(): true}, dropped)
	assert.Equal(t, 1, events)
	_, ok = reg.Data(open.ID())
	assert.False(t, ok)
}

// live returns every live resource of reg.
func live(reg *Registry) []LiveResource {
	page, _ := reg.Live(nil, 0, -1)
	return page
}

// TestRegistryChainStaysBounded: a resource that starts the next and ends,
// as a timer that re-arms itself does, many times over: the live one shows
// its nearest triggers and how deep its chain is, and the records of the
// ended ones, with their owner's data, are not kept alive.
func TestRegistryChainStaysBounded(t *testing.T) {
	const depth = 5 * maxTriggers
	var collected atomic.Int64
	reg := NewRegistry(RegistryFuncs{Init: func(_ context.Context, r LiveResource) any {
		data := new([64]byte)
		runtime.AddCleanup(data, func(*atomic.Int64) { collected.Add(1) }, &collected)
		return data
	}}).Enable()
	defer reg.Disable()

	ids := make([]uint64, 0, depth)
	prev := NewResource(context.Background(), "link", nil)
	ids = append(ids, prev.ID())
	for range depth - 1 {
		var next *Resource
		prev.Run(func(ctx context.Context) { next = NewResource(ctx, "link", nil) })
		prev.Destroy()
		prev = next
		ids = append(ids, prev.ID())
	}
	defer prev.Destroy()

	page, total := reg.Live(func(r LiveResource) bool { return r.Type == "link" }, 0, -1)
	require.Equal(t, 1, total)
	last := page[0]
	assert.Equal(t, prev.ID(), last.ID)
	assert.Equal(t, depth-1, last.Depth, "the whole chain is counted")
	require.Len(t, last.Triggers, maxTriggers, "its nearest links are kept")
	for i, tr := range last.Triggers {
		assert.Equal(t, ids[depth-2-i], tr.ID, "nearest first")
		assert.False(t, tr.Live)
	}
	assert.True(t, last.TriggeredBy(ids[depth-2]))
	assert.False(t, last.TriggeredBy(ids[0]), "beyond the kept links")

	require.Eventually(t, func() bool {
		runtime.GC()
		return collected.Load() == depth-1
	}, 10*time.Second, 10*time.Millisecond, "the data of every ended resource is collected")
}

// TestRegistryLivePages: Live filters, then pages in creation order.
func TestRegistryLivePages(t *testing.T) {
	reg := NewRegistry()
	for id := uint64(1); id <= 10; id++ {
		reg.init(context.Background(), id, map[bool]string{true: "even", false: "odd"}[id%2 == 0], 0, nil)
	}
	var ids []uint64
	page, total := reg.Live(func(r LiveResource) bool { return r.Type == "even" }, 1, 2)
	for _, r := range page {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, 5, total)
	assert.Equal(t, []uint64{4, 6}, ids)
	page, total = reg.Live(nil, 20, 5)
	assert.Equal(t, 10, total)
	assert.Empty(t, page)
}
