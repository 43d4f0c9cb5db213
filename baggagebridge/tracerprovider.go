// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"

	"github.com/otelctx/otelctx/internal/ambientotel"
)

// AmbientTracerProvider returns a TracerProvider whose tracers start a span
// from a ctx that carries no OpenTelemetry context (no span, no baggage)
// and no asynctrack frame as a child of the span of the calling goroutine's
// ambient scope, with its baggage: a span that code which dropped its ctx
// (a library starting spans from context.Background(), a callback, a plain
// go statement in code you do not own) starts inside a request's work joins
// the request's trace, under the request's span, and carries its values. It
// is what Node.js's AsyncLocalStorage context manager gives OpenTelemetry
// JS.
//
// A span started from a ctx that carries OpenTelemetry context or a frame
// is started from that ctx alone, as tp would. Work under asynctrack.Exit,
// started from context.Background() through asynctrack, or running after
// its request's scope closed has no ambient scope: its spans stay roots.
//
// Calling it also opts the program in for outbound calls without a ctx:
// an HTTP request through propagator.NewTransport, or an RPC through a
// ClientConn of otelctxgrpc, made with a ctx that carries nothing, carries
// the ambient request's trace context and the baggage the egress rules
// grant its destination.
//
//	otel.SetTracerProvider(baggagebridge.AmbientTracerProvider(tp))
func AmbientTracerProvider(tp trace.TracerProvider) trace.TracerProvider {
	ambientotel.Enable()
	return &ambientProvider{tp: tp}
}

type ambientProvider struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p *ambientProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return &ambientTracer{t: p.tp.Tracer(name, opts...)}
}

type ambientTracer struct {
	embedded.Tracer
	t trace.Tracer
}

// Start starts a span from ctx, or from the ambient scope's span and
// baggage if ctx carries neither nor a frame; the returned context carries
// them too, so that what ctx's code calls next (an outbound request, a log
// record) belongs to the same request.
func (t *ambientTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return t.t.Start(ambientotel.Adopt(ctx), name, opts...)
}
