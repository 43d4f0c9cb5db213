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
	const rounds, askers = 200, 8
	for range rounds {
		var own [askers]uint64
		done := make(chan struct{})
		Go(context.Background(), func(ctx context.Context) {
			defer close(done)
			var ready, wg sync.WaitGroup
			start := make(chan struct{})
			for i := range askers {
				ready.Add(1)
				wg.Go(func() {
					ready.Done()
					<-start
					own[i] = ExecutionID(ctx)
				})
			}
			ready.Wait()
			close(start)
			wg.Wait()
		})
		<-done
		require.NotZero(t, own[0])
		require.Equal(t, [askers]uint64{own[0], own[0], own[0], own[0], own[0], own[0], own[0], own[0]}, own)
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
