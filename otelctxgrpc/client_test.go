// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/otelctx/otelctx/otelctxgrpc"
	"github.com/otelctx/otelctx/propagator"
)

// egressRules: every destination gets request.id, *.internal also user.id,
// localhost (Unix sockets) also tenant.id.
func egressProp() propagation.TextMapPropagator {
	return propagator.New(
		propagator.WithEgress(propagator.EgressRule{Hosts: []string{"*"}, Keys: []string{"request.id"}}),
		propagator.WithEgress(propagator.EgressRule{Hosts: []string{"*.internal"}, Keys: []string{"user.id"}}),
		propagator.WithEgress(propagator.EgressRule{Hosts: []string{"localhost"}, Keys: []string{"tenant.id"}}),
	)
}

// wireBaggage makes one unary RPC on cc and returns the baggage metadata
// the server received.
func (s *stack) wireBaggage(t *testing.T, ctx context.Context, cc *grpc.ClientConn) []string {
	t.Helper()
	s.mu.Lock()
	s.wire = nil
	s.mu.Unlock()
	_, err := callUnary(ctx, cc, "x")
	require.NoError(t, err)
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.wire, 1)
	require.Len(t, s.wire[0].Get("traceparent"), 1, "the trace context flows")
	return s.wire[0].Get("baggage")
}

// TestDestinationAsGRPCDials: a target's destination is what gRPC resolves
// and dials, whatever the query, fragment or authority say. Before,
// dns:///127.0.0.1:port#:x.internal matched *.internal and user.id reached
// 127.0.0.1.
func TestDestinationAsGRPCDials(t *testing.T) {
	s := newStack(t, echoValues, stackOpts{prop: egressProp()})
	ctx := withBaggage(t, context.Background(), "request.id", "r1", "tenant.id", "t1", "user.id", "u1")
	ctx, span := s.tp.Tracer("test").Start(ctx, "client")
	defer span.End()
	const internal, every, local = "request.id=r1,user.id=u1", "request.id=r1", "request.id=r1,tenant.id=t1"
	for target, want := range map[string]string{
		"api.internal:50051":                   internal,
		"dns:///api.internal:50051":            internal,
		"DNS://8.8.8.8/api.internal:50051":     internal,
		"passthrough:///api.internal:50051":    internal,
		"dns:///127.0.0.1:50051#:x.internal":   every,
		"dns:///127.0.0.1:50051#.internal":     every,
		"dns:///127.0.0.1:50051?x.internal":    every,
		"passthrough:///127.0.0.1#:x.internal": every,
		"127.0.0.1:50051":                      every,
		"dns:":                                 every,
		"dns:///":                              every,
		"unix:///run/app.sock":                 local,
		"unix-abstract:app":                    local,
	} {
		t.Run(target, func(t *testing.T) {
			assert.Equal(t, []string{want}, s.wireBaggage(t, ctx, s.client(t, target)))
		})
	}
	t.Run("authority override", func(t *testing.T) {
		cc := dial(t, "127.0.0.1:50051", s.addr, append(otelctxgrpc.DialOptions(s.prop,
			otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(s.tp), otelgrpc.WithPropagators(s.prop))),
			grpc.WithAuthority("api.internal"))...)
		assert.Equal(t, []string{every}, s.wireBaggage(t, ctx, cc), "the authority does not widen the grants")
	})
}

// TestDialOptionsAnyPropagator: whatever otelgrpc injects with, here the
// stock propagators, and whatever the outgoing metadata held, each
// destination gets exactly its grant. Before, the stock Baggage propagator
// sent every member to every target.
func TestDialOptionsAnyPropagator(t *testing.T) {
	captureErrors(t)
	s := newStack(t, echoValues, stackOpts{prop: egressProp()})
	stock := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	ctx := withBaggage(t, context.Background(), "request.id", "r1", "tenant.id", "t1", "user.id", "u1")
	ctx = metadata.AppendToOutgoingContext(ctx, "baggage", "user.id=forged")
	ctx, span := s.tp.Tracer("test").Start(ctx, "client")
	defer span.End()
	client := func(target string) *grpc.ClientConn {
		return dial(t, target, s.addr, otelctxgrpc.DialOptions(egressProp(),
			otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(s.tp), otelgrpc.WithPropagators(stock)))...)
	}
	assert.Equal(t, []string{"request.id=r1,user.id=u1"}, s.wireBaggage(t, ctx, client("api.internal:1")))
	assert.Equal(t, []string{"request.id=r1"}, s.wireBaggage(t, ctx, client("third-party.example:1")))
}

// TestDialOptionsReports: without rules no baggage leaves, and is reported
// once; a stats handler registered after DialOptions cannot send more than
// the grant, and if it changes the baggage that is reported once.
func TestDialOptionsReports(t *testing.T) {
	s := newStack(t, echoValues, stackOpts{prop: egressProp()})
	stock := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	ctx := withBaggage(t, context.Background(), "request.id", "r1", "user.id", "u1")
	ctx, span := s.tp.Tracer("test").Start(ctx, "client")
	defer span.End()

	t.Run("no rules", func(t *testing.T) {
		errs := captureErrors(t)
		cc := dial(t, "api.internal:1", s.addr, otelctxgrpc.DialOptions(stock,
			otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(s.tp), otelgrpc.WithPropagators(stock)))...)
		assert.Empty(t, s.wireBaggage(t, ctx, cc))
		assert.Empty(t, s.wireBaggage(t, ctx, cc))
		require.Len(t, errs(), 1)
		assert.ErrorContains(t, errs()[0], "no otelctx propagator")
	})
	t.Run("handler after DialOptions", func(t *testing.T) {
		for name, p := range map[string]propagation.TextMapPropagator{"stock": stock, "otelctx": egressProp()} {
			errs := captureErrors(t)
			cc := dial(t, "third-party.example:1", s.addr, append(otelctxgrpc.DialOptions(egressProp()),
				grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(s.tp), otelgrpc.WithPropagators(p))))...)
			got := s.wireBaggage(t, ctx, cc)
			s.wireBaggage(t, ctx, cc)
			if name == "stock" {
				assert.Equal(t, []string{"request.id=r1"}, got, "it sees no baggage to inject")
				assert.Empty(t, errs())
				continue
			}
			assert.Equal(t, []string{""}, got, "cleared: no more than the grant")
			require.Len(t, errs(), 1, name)
			assert.ErrorContains(t, errs()[0], "pass the handler to DialOptions")
		}
	})
}
