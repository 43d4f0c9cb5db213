// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelctx/otelctx/asynctrack"
)

// After a known workload, the counters, the live gauge and the histogram hold
// exact values.
func TestMetricsWorkload(t *testing.T) {
	const (
		goroutines = 50
		workers    = 2
		tasks      = 40
		timers     = 10
		stopped    = 3 // of the timers
	)
	s := newSDK(t)
	s.exporter(t)
	ctx := context.Background()

	g, gctx := asynctrack.NewGroup(ctx)
	for range goroutines {
		g.Go(func(context.Context) error { return nil })
	}
	require.NoError(t, g.Wait())
	require.Error(t, gctx.Err(), "Wait cancels the group's context")

	pool := asynctrack.NewPool(ctx, workers)
	var ran sync.WaitGroup
	ran.Add(tasks)
	for range tasks {
		require.NoError(t, pool.Submit(ctx, func(context.Context) { ran.Done() }))
	}
	ran.Wait()
	pool.Close()

	var fired sync.WaitGroup
	fired.Add(timers - stopped)
	ts := make([]*asynctrack.Timer, timers)
	for i := range ts {
		d := time.Millisecond
		if i < stopped {
			d = time.Hour
		}
		ts[i] = asynctrack.AfterFunc(ctx, d, func(context.Context) { fired.Done() })
	}
	for _, tm := range ts[:stopped] {
		require.True(t, tm.Stop())
	}
	fired.Wait()

	want := map[string]int64{
		asynctrack.TypeGoroutine: goroutines + workers,
		asynctrack.TypeTask:      tasks,
		asynctrack.TypeTimer:     timers,
	}
	// Destroy follows the return of each callback, so the last ones may
	// still be on their way.
	require.Eventually(t, func() bool {
		data := collect(t, s.reader)
		for typ, n := range want {
			if d, _ := sum(data, metricDestroyed, typeKey.String(typ)); d != n {
				return false
			}
		}
		return true
	}, waitFor, time.Millisecond)

	data := collect(t, s.reader)
	for typ, n := range want {
		t.Run(typ, func(t *testing.T) {
			kv := typeKey.String(typ)
			created, _ := sum(data, metricCreated, kv)
			destroyed, _ := sum(data, metricDestroyed, kv)
			live, ok := sum(data, metricLive, kv)
			assert.Equal(t, n, created)
			assert.Equal(t, n, destroyed)
			require.True(t, ok)
			assert.Zero(t, live)
			h, ok := histogram(data, kv)
			require.True(t, ok)
			assert.Equal(t, uint64(n), h.Count)
			assert.Equal(t, lifetimeBounds, h.Bounds)
			assert.GreaterOrEqual(t, h.Sum, 0.0)
		})
	}
	for _, name := range []string{metricCreated, metricDestroyed, metricLive} {
		assert.Len(t, data[name].(metricdata.Sum[int64]).DataPoints, len(want), "%s: no other types", name)
	}
	assert.True(t, data[metricCreated].(metricdata.Sum[int64]).IsMonotonic)
	assert.True(t, data[metricDestroyed].(metricdata.Sum[int64]).IsMonotonic)
	assert.False(t, data[metricLive].(metricdata.Sum[int64]).IsMonotonic)
	assert.Empty(t, data[metricDropped], "no span types, no dropped-span points")
}

// The live gauge counts resources that have not been destroyed yet.
func TestMetricsLive(t *testing.T) {
	s := newSDK(t)
	s.exporter(t)
	ctx := context.Background()
	res := make([]*asynctrack.Resource, 3)
	for i := range res {
		res[i] = asynctrack.NewResource(ctx, "job", nil)
	}
	res[0].Destroy()
	data := collect(t, s.reader)
	live, _ := sum(data, metricLive, typeKey.String("job"))
	assert.EqualValues(t, 2, live)
	_, ok := histogram(data, typeKey.String("job"))
	assert.True(t, ok)
	for _, r := range res[1:] {
		r.Destroy()
	}
	live, _ = sum(collect(t, s.reader), metricLive, typeKey.String("job"))
	assert.Zero(t, live)
}

// Types past maxTypes are counted together under otel.metric.overflow.
func TestMetricsTypeOverflow(t *testing.T) {
	s := newSDK(t)
	s.exporter(t, WithSpanTypes("selected")) // takes one of the slots
	const extra = 10
	for i := range maxTypes + extra {
		asynctrack.NewResource(context.Background(), fmt.Sprintf("type-%d", i), nil).Destroy()
	}
	data := collect(t, s.reader)
	overflow, ok := sum(data, metricCreated, attribute.Bool("otel.metric.overflow", true))
	require.True(t, ok)
	assert.EqualValues(t, extra+1, overflow)
	assert.Len(t, data[metricCreated].(metricdata.Sum[int64]).DataPoints, maxTypes+1)
	first, _ := sum(data, metricCreated, typeKey.String("type-0"))
	assert.EqualValues(t, 1, first)
	_, ok = sum(data, metricCreated, typeKey.String(fmt.Sprintf("type-%d", maxTypes)))
	assert.False(t, ok)
}

// Lifetimes recorded in full batches, concurrently, and the partial batches
// left at collection time add up to exactly one per resource.
func TestMetricsLifetimeBatches(t *testing.T) {
	const (
		workers = 4
		each    = 10 * shards * lifetimeBatch / workers // ten full batches per shard
	)
	s := newSDK(t)
	s.exporter(t)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				asynctrack.NewResource(context.Background(), "job", nil).Destroy()
			}
		}()
	}
	asynctrack.NewResource(context.Background(), "job", nil).Destroy() // one more: a partial batch
	wg.Wait()
	data := collect(t, s.reader)
	h, ok := histogram(data, typeKey.String("job"))
	require.True(t, ok)
	assert.Equal(t, uint64(workers*each+1), h.Count)
	destroyed, _ := sum(data, metricDestroyed, typeKey.String("job"))
	assert.EqualValues(t, workers*each+1, destroyed)
}
