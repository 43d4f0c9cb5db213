package asynctrack

import (
	"context"
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

// TestRegistryLiveInCreationOrder: IDs from different CPUs' blocks do not
// follow creation order, so Live orders by creation time first.
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
