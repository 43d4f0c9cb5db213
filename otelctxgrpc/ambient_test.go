// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/otelctxgrpc"
)

// TestRPCWithoutCtx: with the opt-in (baggagebridge.AmbientTracerProvider),
// an RPC made with context.Background() inside a request's work carries the
// request's trace and the baggage its target is granted; outside every
// request, neither.
func TestRPCWithoutCtx(t *testing.T) {
	if !ambient() {
		t.Skip("ambient lookups need the linkname build")
	}
	captureErrors(t)
	s := newStack(t, echoValues, stackOpts{prop: egressProp()})
	tp := baggagebridge.AmbientTracerProvider(s.tp) // the opt-in
	cc := dial(t, "api.internal:1", s.addr, otelctxgrpc.DialOptions(egressProp(),
		otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(egressProp())))...)

	ctx := withBaggage(t, context.Background(), "request.id", "r1", "user.id", "u1", "secret", "s1")
	ctx, span := s.tp.Tracer("test").Start(ctx, "request")
	defer span.End()
	var in []string
	asynctrack.Run(ctx, func(context.Context) {
		in = s.wireBaggage(t, context.Background(), cc) // no ctx
	})
	s.mu.Lock()
	traceparent := strings.Join(s.wire[0].Get("traceparent"), "")
	s.mu.Unlock()
	assert.Equal(t, []string{"request.id=r1,user.id=u1"}, in)
	assert.Contains(t, traceparent, span.SpanContext().TraceID().String(), "the request's trace")

	out := s.wireBaggage(t, context.Background(), cc)
	s.mu.Lock()
	traceparent = strings.Join(s.wire[0].Get("traceparent"), "")
	s.mu.Unlock()
	assert.Empty(t, out, "outside every request, no baggage")
	assert.NotContains(t, traceparent, span.SpanContext().TraceID().String())
	require.True(t, span.SpanContext().IsValid())
}
