// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package ambientotel is the one rule by which this module's packages let
// code that dropped its ctx join its request's OpenTelemetry context: a
// context that carries a span context, a baggage or an asynctrack frame is
// used alone; one that carries none of them takes the ambient scope's.
package ambientotel

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/internal/scopehook"
)

// enabled is set once the program opts in to spans and outbound calls
// without a ctx joining their request (baggagebridge.AmbientTracerProvider).
var enabled atomic.Bool

// Enable opts the program in, for good.
func Enable() { enabled.Store(true) }

// Carries reports whether ctx carries OpenTelemetry context or an asynctrack
// frame: then it is the whole truth about its request.
func Carries(ctx context.Context) bool {
	return trace.SpanContextFromContext(ctx).IsValid() || baggage.FromContext(ctx).Len() > 0 || scopehook.HasFrame(ctx)
}

// Adopt returns ctx with the span and the baggage of the calling
// goroutine's ambient scope, if the program opted in and ctx carries
// neither of them nor a frame; otherwise ctx. The rest of ctx (deadline,
// cancellation, other values) is kept.
func Adopt(ctx context.Context) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	if !enabled.Load() || Carries(ctx) {
		return ctx
	}
	return adopt(ctx, asynctrack.Ambient())
}

func adopt(ctx, amb context.Context) context.Context {
	if span := trace.SpanFromContext(amb); span.SpanContext().IsValid() {
		ctx = trace.ContextWithSpan(ctx, span)
	}
	if bag := baggage.FromContext(amb); bag.Len() > 0 {
		ctx = baggage.ContextWithBaggage(ctx, bag)
	}
	return ctx
}
