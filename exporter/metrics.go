// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Metric names. See the package documentation.
const (
	metricLive      = "otelctx.async.resources.live"
	metricCreated   = "otelctx.async.resources.created"
	metricDestroyed = "otelctx.async.resources.destroyed"
	metricLifetime  = "otelctx.async.resource.lifetime"
	metricDropped   = "otelctx.async.spans.dropped"
)

// lifetimeBounds are the advisory bucket boundaries of the lifetime histogram,
// in seconds: from the tens of microseconds a short goroutine lives to the
// hour a leaked one has been waiting. A View can replace them.
var lifetimeBounds = []float64{
	0.00001, 0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
	1, 5, 10, 30, 60, 300, 1800, 3600,
}

// maxTypes bounds the resource types counted one by one. Types are strings
// chosen by code, so a type built from request data would otherwise grow the
// table, and the metric streams, without end. Further types share one entry
// marked otel.metric.overflow=true, as the SDK does past its cardinality
// limit.
const maxTypes = 256

// typeStats are the counts of one resource type. The counters are atomics
// summed at collection time: recording an event is one atomic add.
type typeStats struct {
	created, destroyed, dropped atomic.Int64

	spans    bool               // WithSpanTypes selected the type
	name     string             // span name: the type
	typeAttr attribute.KeyValue // typeKey, for spans
	record   []metric.RecordOption
	observe  []metric.ObserveOption
}

func newTypeStats(typ string, spans bool) *typeStats {
	return newStats(typ, spans, typeKey.String(typ))
}

func newStats(name string, spans bool, kv attribute.KeyValue) *typeStats {
	set := attribute.NewSet(kv)
	return &typeStats{
		spans:    spans,
		name:     name,
		typeAttr: kv,
		// Built once so that recording passes a ready slice and boxes nothing.
		record:  []metric.RecordOption{metric.WithAttributeSet(set)},
		observe: []metric.ObserveOption{metric.WithAttributeSet(set)},
	}
}

// typeTable maps a type to its stats. Reads are one atomic load and one map
// lookup; a new type copies the map under mu, which happens at most maxTypes
// times in a process's life.
type typeTable struct {
	byName   atomic.Pointer[map[string]*typeStats]
	mu       sync.Mutex
	overflow *typeStats
}

func newTypeTable(spanTypes []string) *typeTable {
	m := make(map[string]*typeStats, len(spanTypes))
	for _, typ := range spanTypes {
		m[typ] = newTypeStats(typ, true)
	}
	t := &typeTable{overflow: newStats("", false, attribute.Bool("otel.metric.overflow", true))}
	t.byName.Store(&m)
	return t
}

func (t *typeTable) get(typ string) *typeStats {
	if s := (*t.byName.Load())[typ]; s != nil {
		return s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.byName.Load()
	if s := old[typ]; s != nil {
		return s
	}
	if len(old) >= maxTypes {
		return t.overflow
	}
	m := make(map[string]*typeStats, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	s := newTypeStats(typ, false)
	m[typ] = s
	t.byName.Store(&m)
	return s
}

// each calls fn for every type's stats, the overflow entry included once it
// has been used.
func (t *typeTable) each(fn func(*typeStats)) {
	for _, s := range *t.byName.Load() {
		fn(s)
	}
	if t.overflow.created.Load() > 0 {
		fn(t.overflow)
	}
}

// newInstruments creates the instruments on mp's meter and registers the
// callback that observes types, which first calls flush so that the
// histogram holds every lifetime recorded before the collection. Errors are reported through otel.Handle: the
// names are constants, so only a broken provider fails, and no caller could
// act on it. The lifetime histogram, the one instrument the hook calls, falls
// back to a no-op one if the provider returns none.
func newInstruments(mp metric.MeterProvider, types *typeTable, flush func()) (metric.Float64Histogram, metric.Registration) {
	m := mp.Meter(scopeName)
	var errs []error
	keep := func(err error) { errs = append(errs, err) }

	live, err := m.Int64ObservableUpDownCounter(metricLive,
		metric.WithUnit("{resource}"),
		metric.WithDescription("Async resources created and not yet destroyed."))
	keep(err)
	created, err := m.Int64ObservableCounter(metricCreated,
		metric.WithUnit("{resource}"),
		metric.WithDescription("Async resources created."))
	keep(err)
	destroyed, err := m.Int64ObservableCounter(metricDestroyed,
		metric.WithUnit("{resource}"),
		metric.WithDescription("Async resources destroyed."))
	keep(err)
	dropped, err := m.Int64ObservableCounter(metricDropped,
		metric.WithUnit("{span}"),
		metric.WithDescription("Async-resource spans not started because their trace reached the per-trace bound."))
	keep(err)
	lifetime, err := m.Float64Histogram(metricLifetime,
		metric.WithUnit("s"),
		metric.WithDescription("Time from the creation of an async resource to its destruction."),
		metric.WithExplicitBucketBoundaries(lifetimeBounds...))
	keep(err)
	if lifetime == nil {
		lifetime, _ = noop.Meter{}.Float64Histogram(metricLifetime)
	}

	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		flush()
		types.each(func(s *typeStats) {
			// Destroyed first: created only grows, so live never reads
			// negative.
			d := s.destroyed.Load()
			c := s.created.Load()
			o.ObserveInt64(live, c-d, s.observe...)
			o.ObserveInt64(created, c, s.observe...)
			o.ObserveInt64(destroyed, d, s.observe...)
			if s.spans {
				o.ObserveInt64(dropped, s.dropped.Load(), s.observe...)
			}
		})
		return nil
	}, live, created, destroyed, dropped)
	keep(err)
	if err := errors.Join(errs...); err != nil {
		otel.Handle(fmt.Errorf("exporter: creating metric instruments: %w", err))
	}
	return lifetime, reg
}
