// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"sync"
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
		for _, r := range reg.Live() {
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
		for _, r := range reg.Live() {
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

// TestRegistryLiveInCreationOrder: IDs do not follow creation order (a
// resource created while no hook was enabled takes its ID when first asked,
// see frame.ID), so Live orders by creation time first.
func TestRegistryLiveInCreationOrder(t *testing.T) {
	reg := NewRegistry() // never enabled: the records come from its Init
	for _, id := range []uint64{3000, 1000, 2000} {
		reg.init(context.Background(), id, "block", 0, nil)
		time.Sleep(time.Millisecond) // distinct creation times on any clock
	}
	var ids []uint64
	for _, r := range reg.Live() {
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
