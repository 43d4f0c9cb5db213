// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/processors/baggagecopy"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/otelctxgrpc"
	"github.com/otelctx/otelctx/propagator"
)

// BenchmarkGRPC measures unary RPCs over loopback with otelgrpc alone
// (stock propagators) and with otelctx added (scope, propagator, span
// processor), and otelgrpc_scope (see grpcVariants), in the same run so that the ratio can be read: full/otelgrpc
// is what this project adds to otelgrpc, full/otelgrpc_baggagecopy what it
// costs against the stock way to the same values on the same spans. It is measured as BenchmarkHTTP in
// the examples module measures HTTP: rpc/s counts RPCs answered per second
// of wall time by concurrent clients, four per core, which keep the server
// busy, and cpu-ns/op the CPU time, user and system, the whole process
// (clients, server, exporter) spent per RPC, which depends less on what
// else the machine runs. Every setup uses the SDK with an in-memory
// exporter behind a batch span processor that never drops a span
// (sdktrace.WithBlocking), the bridge wrapping it under otelctx as README's
// setup does. The handler is
// the same but for how its two goroutines read the two values: from the
// ctx they are handed, with baggage.FromContext, under otelgrpc; ambiently,
// with baggagebridge.Current, under otelctx. Both start them with a go
// statement. An RPC fails unless both values arrive.
//
//	go test -run '^$' -bench GRPC -benchmem -count 5
func BenchmarkGRPC(b *testing.B) {
	for _, v := range grpcVariants {
		b.Run(v, func(b *testing.B) {
			cc, exp, _ := startGRPC(b, v)
			ctx := withBaggage(b, context.Background(), "user.id", "u1", "tenant.id", "t1")
			// The exporter keeps every span: reset it now and then, so
			// that the heap, and with it the cost of GC, does not grow
			// with b.N.
			var sent atomic.Int64
			b.SetParallelism(4)
			b.ReportAllocs()
			cpu0, cpuOK := processCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := callUnary(ctx, cc, "x"); err != nil {
						b.Error(err)
						return
					}
					if sent.Add(1)%1024 == 0 {
						exp.Reset()
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rpc/s")
			if cpu1, ok := processCPU(); ok && cpuOK {
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// TestGRPCVariants checks that each setup of BenchmarkGRPC does the work
// it measures: the handler reads both values, and otelgrpc records a
// client and a server span of one trace.
func TestGRPCVariants(t *testing.T) {
	for _, v := range grpcVariants {
		t.Run(v, func(t *testing.T) {
			cc, exp, tp := startGRPC(t, v)
			ctx := withBaggage(t, context.Background(), "user.id", "u1", "tenant.id", "t1")
			_, err := callUnary(ctx, cc, "x")
			require.NoError(t, err)
			_, err = callUnary(context.Background(), cc, "x")
			require.EqualError(t, err, `rpc error: code = Unknown desc = values "", "", want "u1", "t1"`)
			// A server span ends after its response is sent.
			var spans tracetest.SpanStubs
			require.Eventually(t, func() bool {
				require.NoError(t, tp.ForceFlush(context.Background()))
				spans = exp.GetSpans()
				return len(spans) >= 4
			}, 5*time.Second, 5*time.Millisecond)
			require.Len(t, spans, 4)
			// Each RPC is a trace of a client and a server span; under
			// otelctx the first RPC's carry its values.
			byTrace := map[trace.TraceID][]trace.SpanKind{}
			withValues := map[trace.TraceID]int{}
			for _, s := range spans {
				byTrace[s.SpanContext.TraceID()] = append(byTrace[s.SpanContext.TraceID()], s.SpanKind)
				if slices.Contains(s.Attributes, attribute.String("user.id", "u1")) {
					withValues[s.SpanContext.TraceID()]++
				}
			}
			require.Len(t, byTrace, 2)
			for _, kinds := range byTrace {
				assert.ElementsMatch(t, []trace.SpanKind{trace.SpanKindClient, trace.SpanKindServer}, kinds)
			}
			if v != "otelgrpc" && v != "otelgrpc_scope" && v != "full_novalues" {
				assert.Len(t, withValues, 1, "one RPC's spans carry its values")
				for _, n := range withValues {
					assert.Equal(t, 2, n, "both spans of that RPC")
				}
			} else {
				assert.Empty(t, withValues)
			}
		})
	}
}

// grpcVariants are the setups of BenchmarkGRPC. otelgrpc_scope is otelgrpc
// with only the least that one asynctrack resource per RPC costs, an
// interceptor that runs each RPC in one, its goroutines reading the values
// from the ctx they are handed: the floor under full's scope.
// otelgrpc_baggagecopy is otelgrpc with contrib's baggagecopy span
// processor copying the two values onto both spans: the stock way to the
// values full puts on the same spans. The full_no rows are full without one
// of its parts, so that what each costs can be told apart: full_noegress
// without DialOptions (the client is otelgrpc's alone, with the stock
// propagator, which sends every member everywhere), full_novalues without
// the bridge's span processor, full_noscope without the scope
// (ServerOptions' stats handler alone; the goroutines read the values from
// the ctx they are handed).
var grpcVariants = []string{"otelgrpc", "otelgrpc_scope", "otelgrpc_baggagecopy", "full",
	"full_noegress", "full_novalues", "full_noscope"}

// startGRPC starts variant v's server on loopback and returns a client of
// it, the exporter of the spans of both and their tracer provider.
func startGRPC(tb testing.TB, v string) (*grpc.ClientConn, *tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	exp := tracetest.NewInMemoryExporter()
	var (
		prop  propagation.TextMapPropagator
		tpo   []sdktrace.TracerProviderOption
		value func(ctx context.Context, key string) string
		sopts []grpc.ServerOption
		full  bool
	)
	switch v {
	case "otelgrpc", "otelgrpc_scope", "otelgrpc_baggagecopy":
		prop = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
		value = func(ctx context.Context, key string) string { return baggage.FromContext(ctx).Member(key).Value() }
		if v == "otelgrpc_scope" {
			sopts = append(sopts, grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
				res := asynctrack.NewResource(ctx, otelctxgrpc.TypeGRPCRequest, info.FullMethod)
				defer res.Destroy()
				res.Run(func(ctx context.Context) { resp, err = h(ctx, req) })
				return resp, err
			}))
		}
		if v == "otelgrpc_baggagecopy" {
			tpo = append(tpo, sdktrace.WithSpanProcessor(baggagecopy.NewSpanProcessor(func(m baggage.Member) bool {
				return m.Key() == "user.id" || m.Key() == "tenant.id"
			})), sdktrace.WithBatcher(exp, sdktrace.WithBlocking()))
		}
	case "full", "full_noegress", "full_novalues", "full_noscope":
		prop = propagator.New(propagator.WithEgress(propagator.EgressRule{Hosts: []string{"svc"}, Keys: []string{"user.id", "tenant.id"}}))
		if v != "full_novalues" {
			// As README's setup: the bridge wraps the exporting processor.
			tpo = append(tpo, sdktrace.WithSpanProcessor(baggagebridge.WrapSpanProcessor(sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithBlocking()))))
		}
		value = func(_ context.Context, key string) string { s, _ := baggagebridge.Current(key); return s }
		sopts = otelctxgrpc.ServerOptions(otelctxgrpc.WithPropagators(prop))
		if v == "full_noscope" {
			sopts = sopts[:1] // its stats handler, the first option (the RPC fails without it)
			value = func(ctx context.Context, key string) string { return baggage.FromContext(ctx).Member(key).Value() }
		}
		full = v != "full_noegress"
	}
	if tpo == nil {
		tpo = append(tpo, sdktrace.WithBatcher(exp, sdktrace.WithBlocking()))
	}
	tp := sdktrace.NewTracerProvider(tpo...)
	tb.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	srv := &echo{unary: func(ctx context.Context, in string) (string, error) {
		var (
			wg           sync.WaitGroup
			user, tenant string
		)
		wg.Add(2)
		go func() { defer wg.Done(); user = value(ctx, "user.id") }()
		go func() { defer wg.Done(); tenant = value(ctx, "tenant.id") }()
		wg.Wait()
		if user != "u1" || tenant != "t1" {
			return "", fmt.Errorf("values %q, %q, want \"u1\", \"t1\"", user, tenant)
		}
		return in, nil
	}}
	addr := serve(tb, srv, append(sopts,
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))))...)
	cprop := prop
	if v == "full_noegress" {
		cprop = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	client := otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(cprop))
	dopts := []grpc.DialOption{grpc.WithStatsHandler(client)}
	if full {
		dopts = otelctxgrpc.DialOptions(prop, client)
	}
	cc := dial(tb, "svc:1", addr, dopts...)
	return cc, exp, tp
}
