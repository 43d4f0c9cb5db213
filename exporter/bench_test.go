// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"context"
	"sync"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelctx/otelctx/asynctrack"
)

// joinEvery is the fan-out of one request in BenchmarkExporterHook: the
// goroutines in flight are bounded, as in asynctrack's BenchmarkGo, and each
// batch runs in a trace of its own, so the per-trace bound never bites.
const joinEvery = 64

// discard is a span exporter that drops what it is given, so that the
// benchmark pays for a production pipeline (batching) but not for I/O.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkExporterHook measures spawning and joining a tracked goroutine
// inside a sampled trace: with no Exporter (the baseline), with an Exporter
// recording metrics and the live-resource registry, and with one that also
// starts a span per goroutine. manual_span is the baseline for spans: no
// Exporter, and each goroutine starts and ends a span of its own.
func BenchmarkExporterHook(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(discard{}))
	defer tp.Shutdown(context.Background())
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	tracer := tp.Tracer("bench")

	spawnWith := func(b *testing.B, work func(ctx context.Context)) {
		var wg sync.WaitGroup
		done := func(ctx context.Context) {
			work(ctx)
			wg.Done()
		}
		ctx, request := tracer.Start(context.Background(), "request")
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			wg.Add(1)
			asynctrack.Go(ctx, done)
			if n++; n%joinEvery == 0 {
				wg.Wait()
				request.End()
				ctx, request = tracer.Start(context.Background(), "request")
			}
		}
		wg.Wait()
		request.End()
	}
	spawn := func(b *testing.B) { spawnWith(b, func(context.Context) {}) }
	with := func(opts ...Option) func(b *testing.B) {
		return func(b *testing.B) {
			e := New(append([]Option{WithTracerProvider(tp), WithMeterProvider(mp)}, opts...)...)
			defer e.Shutdown(context.Background())
			spawn(b)
		}
	}
	b.Run("disabled", spawn)
	b.Run("metrics", with())
	b.Run("spans", with(WithSpanTypes(asynctrack.TypeGoroutine)))
	b.Run("manual_span", func(b *testing.B) {
		spawnWith(b, func(ctx context.Context) {
			_, span := tracer.Start(ctx, asynctrack.TypeGoroutine)
			span.End()
		})
	})
}
