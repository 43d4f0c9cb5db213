// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package report

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// capture sends the reports to the returned func for the duration of t.
func capture(t *testing.T) func() []error {
	var mu sync.Mutex
	var got []error
	SetHandler(func(err error) { mu.Lock(); got = append(got, err); mu.Unlock() })
	t.Cleanup(func() { SetHandler(nil) })
	return func() []error { mu.Lock(); defer mu.Unlock(); return append([]error(nil), got...) }
}

func TestBoundReportsOncePerInterval(t *testing.T) {
	got := capture(t)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var kinds [2]Bound
	report := func(k int) {
		kinds[k].Report(clock, 1, func(n int64) error { return fmt.Errorf("kind %d x%d", k, n) })
	}

	for range 5 {
		report(0)
	}
	report(1)
	clock = clock.Add(Interval - 1)
	report(0)
	require.Equal(t, []error{errors.New("kind 0 x1"), errors.New("kind 1 x1")}, got(), "the first of each kind at once")
	clock = clock.Add(1)
	report(0)
	assert.Equal(t, errors.New("kind 0 x6"), got()[2], "then once per Interval, for the occurrences held back")
	kinds[0].Report(clock, 3, func(n int64) error { return fmt.Errorf("kind 0 x%d", n) })
	assert.Len(t, got(), 3)
	assert.Equal(t, int64(3), kinds[0].Held(), "n occurrences at once, held back")
}

func TestBoundConcurrentCountsEveryOccurrence(t *testing.T) {
	got := capture(t)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b Bound
	var total sync.Map
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				b.Report(clock, 1, func(n int64) error { total.Store(i*1000+j, n); return errors.New("x") })
			}
		}()
	}
	wg.Wait()
	b.Report(clock.Add(Interval), 1, func(n int64) error { total.Store(-1, n); return errors.New("x") })
	var sum int64
	total.Range(func(_, v any) bool { sum += v.(int64); return true })
	assert.Equal(t, int64(801), sum, "each occurrence is in exactly one report")
	assert.Len(t, got(), 2)
}

func TestHandleDefaultsToLog(t *testing.T) {
	SetHandler(nil)
	var buf syncBuffer
	log := logOutput(t, &buf)
	Handle(errors.New("to the log"))
	assert.Contains(t, log(), "to the log")
}
