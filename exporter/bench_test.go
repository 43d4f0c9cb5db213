// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
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

// parkRequests starts requests resources, each running in its scope with
// perRequest goroutines parked on a channel (its own and perRequest-1
// started with plain go statements), and returns a func that ends them.
func parkRequests(requests, perRequest int) (stop func()) {
	release := make(chan struct{})
	var parked, exited sync.WaitGroup
	res := make([]*asynctrack.Resource, requests)
	for i := range res {
		res[i] = asynctrack.NewResource(context.Background(), "http.request", nil)
		parked.Add(perRequest)
		exited.Add(perRequest)
		go res[i].Run(func(context.Context) {
			for range perRequest - 1 {
				go func() {
					defer exited.Done()
					parked.Done()
					<-release
				}()
			}
			defer exited.Done()
			parked.Done()
			<-release
		})
	}
	parked.Wait()
	return func() {
		close(release)
		exited.Wait()
		for _, r := range res {
			r.Destroy()
		}
	}
}

// BenchmarkView measures a page of the live view with 10,000 goroutines
// parked in request scopes: 100 requests of 100 goroutines, and 10,000
// requests of one. profile is the runtime's goroutine profile alone, which
// every page reads once; read adds parsing it and resolving each sample's
// scope; json, text and html are the whole page of the default limit.
func BenchmarkView(b *testing.B) {
	for _, shape := range []struct {
		name                 string
		requests, perRequest int
	}{{"100x100", 100, 100}, {"10000x1", 10000, 1}} {
		b.Run(shape.name, func(b *testing.B) {
			e := New()
			defer e.Shutdown(context.Background())
			stop := parkRequests(shape.requests, shape.perRequest)
			defer stop()
			b.Run("profile", func(b *testing.B) {
				for b.Loop() {
					if err := pprof.Lookup("goroutine").WriteTo(io.Discard, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("read", func(b *testing.B) {
				for b.Loop() {
					if sg := readGoroutines(); sg.err != nil || sg.total < 10_000 {
						b.Fatal(sg.err, sg.total)
					}
				}
			})
			for _, format := range []string{"json", "text", "html"} {
				b.Run(format, func(b *testing.B) {
					h := e.Handler()
					r := httptest.NewRequest(http.MethodGet, "/debug/async?format="+format, nil)
					var size int
					for b.Loop() {
						w := httptest.NewRecorder()
						h.ServeHTTP(w, r)
						size = w.Body.Len()
					}
					b.ReportMetric(float64(size), "bytes/page")
				})
			}
		})
	}
}
