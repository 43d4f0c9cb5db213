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

// BenchmarkRearmingTimer measures one firing of a timer that re-arms itself
// from the ctx it receives (Node's setInterval with no delay): with no
// Exporter, and with one recording metrics and the live-resource registry.
// A firing costs the same at the millionth as at the first: b.N firings
// run in one chain.
func BenchmarkRearmingTimer(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	run := func(b *testing.B) {
		b.ReportAllocs()
		done := make(chan struct{})
		n := 0
		var tick func(ctx context.Context)
		tick = func(ctx context.Context) {
			if n++; n >= b.N {
				close(done)
				return
			}
			asynctrack.AfterFunc(ctx, 0, tick)
		}
		b.ResetTimer()
		asynctrack.AfterFunc(context.Background(), 0, tick)
		<-done
	}
	b.Run("disabled", run)
	b.Run("exporter", func(b *testing.B) {
		e := New(WithMeterProvider(mp))
		defer e.Shutdown(context.Background())
		run(b)
	})
}

// BenchmarkViewDeepChain serves the default page of the view, in each
// format, with 1,000 live resources at the end of a chain 100,000 deep:
// what a page costs does not depend on how deep the chains are.
func BenchmarkViewDeepChain(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	e := New(WithMeterProvider(mp))
	defer e.Shutdown(context.Background())
	const depth, leaves = 100_000, DefaultViewLimit
	prev := asynctrack.NewResource(context.Background(), "link", nil)
	for range depth {
		var next *asynctrack.Resource
		prev.Run(func(ctx context.Context) { next = asynctrack.NewResource(ctx, "link", nil) })
		prev.Destroy()
		prev = next
	}
	defer prev.Destroy()
	prev.Run(func(ctx context.Context) {
		for range leaves - 1 {
			b.Cleanup(asynctrack.NewResource(ctx, "leaf", nil).Destroy)
		}
	})
	for _, format := range []string{"json", "text", "html"} {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			size := 0
			for b.Loop() {
				size = serve(e, "format="+format).Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}
