package asynctrack

import (
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
