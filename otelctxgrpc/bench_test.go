// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc_test

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"

	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/otelctxgrpc"
	"github.com/otelctx/otelctx/propagator"
)

// BenchmarkGRPC compares a unary RPC over loopback with otelgrpc alone
// (stock propagators) and with otelctx added (scope, propagator, span
// processor). The handler starts two goroutines that each read two values:
// from the ctx they are handed under otelgrpc, ambiently under otelctx.
func BenchmarkGRPC(b *testing.B) {
	b.Run("otelgrpc", func(b *testing.B) {
		prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
		read := func(ctx context.Context) {
			bag := baggage.FromContext(ctx)
			sink(bag.Member("user.id").Value(), bag.Member("tenant.id").Value())
		}
		srv := &echo{unary: func(ctx context.Context, in string) (string, error) {
			var wg sync.WaitGroup
			wg.Add(2)
			for range 2 {
				go func() { defer wg.Done(); read(ctx) }()
			}
			wg.Wait()
			return in, nil
		}}
		addr := serve(b, srv, grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))))
		cc := dial(b, "svc:1", addr, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))))
		benchCalls(b, cc, tp)
	})
	b.Run("full", func(b *testing.B) {
		prop := propagator.New(propagator.WithEgress(propagator.EgressRule{Hosts: []string{"svc"}, Keys: []string{"user.id", "tenant.id"}}))
		tp := sdktrace.NewTracerProvider(
			sdktrace.WithSpanProcessor(baggagebridge.NewSpanProcessor()),
			sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
		read := func() {
			u, _ := baggagebridge.Current("user.id")
			t, _ := baggagebridge.Current("tenant.id")
			sink(u, t)
		}
		srv := &echo{unary: func(ctx context.Context, in string) (string, error) {
			var wg sync.WaitGroup
			wg.Add(2)
			for range 2 {
				go func() { defer wg.Done(); read() }()
			}
			wg.Wait()
			return in, nil
		}}
		addr := serve(b, srv, append(otelctxgrpc.ServerOptions(otelctxgrpc.WithPropagator(prop)),
			grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))))...)
		cc := dial(b, "svc:1", addr, append(otelctxgrpc.DialOptions(),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))))...)
		benchCalls(b, cc, tp)
	})
}

func benchCalls(b *testing.B, cc *grpc.ClientConn, tp *sdktrace.TracerProvider) {
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx := withBaggage(b, context.Background(), "user.id", "u1", "tenant.id", "t1")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := callUnary(ctx, cc, "x"); err != nil {
			b.Fatal(err)
		}
	}
}

var sinkMu sync.Mutex
var sunk int

// sink keeps the values read from being optimised away.
func sink(a, b string) {
	sinkMu.Lock()
	sunk += len(a) + len(b)
	sinkMu.Unlock()
}
