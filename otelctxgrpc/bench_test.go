// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"

	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/otelctxgrpc"
	"github.com/otelctx/otelctx/propagator"
)

// BenchmarkGRPC compares unary RPCs over loopback, one after the other,
// with otelgrpc alone (stock propagators) and with otelctx added (scope,
// propagator, span processor), in the same run so that the ratio can be
// read: full/otelgrpc is what this project adds to otelgrpc. Both use the
// SDK with an in-memory exporter. The handler is the same but for how its
// two goroutines read the two values: from the ctx they are handed, with
// baggage.FromContext, under otelgrpc; ambiently, with
// baggagebridge.Current, under otelctx. Both start them with a go
// statement. An RPC fails unless both values arrive.
//
//	go test -run '^$' -bench GRPC -benchmem -count 5
func BenchmarkGRPC(b *testing.B) {
	for _, v := range grpcVariants {
		b.Run(v, func(b *testing.B) {
			cc, exp := startGRPC(b, v)
			ctx := withBaggage(b, context.Background(), "user.id", "u1", "tenant.id", "t1")
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, err := callUnary(ctx, cc, "x"); err != nil {
					b.Fatal(err)
				}
				// The exporter keeps every span: reset it now and then,
				// so that the heap, and with it the cost of GC, does not
				// grow with b.N.
				if n++; n%1024 == 0 {
					exp.Reset()
				}
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
			cc, exp := startGRPC(t, v)
			ctx := withBaggage(t, context.Background(), "user.id", "u1", "tenant.id", "t1")
			_, err := callUnary(ctx, cc, "x")
			require.NoError(t, err)
			_, err = callUnary(context.Background(), cc, "x")
			require.EqualError(t, err, `rpc error: code = Unknown desc = values "", "", want "u1", "t1"`)
			spans := exp.GetSpans()
			require.Len(t, spans, 4)
			require.Equal(t, spans[0].SpanContext.TraceID(), spans[1].SpanContext.TraceID())
			if v == "full" {
				for _, s := range spans[:2] {
					assert.Contains(t, s.Attributes, attribute.String("user.id", "u1"), "exported %s", s.Name)
				}
			}
		})
	}
}

var grpcVariants = []string{"otelgrpc", "full"}

// startGRPC starts variant v's server on loopback and returns a client of
// it and the exporter of the spans of both.
func startGRPC(tb testing.TB, v string) (*grpc.ClientConn, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	var (
		prop  propagation.TextMapPropagator
		tpo   []sdktrace.TracerProviderOption
		value func(ctx context.Context, key string) string
		sopts []grpc.ServerOption
		dopts []grpc.DialOption
	)
	switch v {
	case "otelgrpc":
		prop = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
		value = func(ctx context.Context, key string) string { return baggage.FromContext(ctx).Member(key).Value() }
	case "full":
		prop = propagator.New(propagator.WithEgress(propagator.EgressRule{Hosts: []string{"svc"}, Keys: []string{"user.id", "tenant.id"}}))
		// As README's setup: the bridge wraps the exporting processor.
		tpo = append(tpo, sdktrace.WithSpanProcessor(baggagebridge.WrapSpanProcessor(sdktrace.NewSimpleSpanProcessor(exp))))
		value = func(_ context.Context, key string) string { s, _ := baggagebridge.Current(key); return s }
		sopts = otelctxgrpc.ServerOptions(otelctxgrpc.WithPropagator(prop))
		dopts = otelctxgrpc.DialOptions()
	}
	if tpo == nil {
		tpo = append(tpo, sdktrace.WithSyncer(exp))
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
	cc := dial(tb, "svc:1", addr, append(dopts,
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))))...)
	return cc, exp
}
