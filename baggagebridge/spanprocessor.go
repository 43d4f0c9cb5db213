// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"context"

	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// SpanProcessor copies selected baggage values onto every span as it
// starts, for sdktrace.WithSpanProcessor. The span gets the values of the
// baggage in the context it is started from (WithKeys, WithKeyPrefixes,
// WithAttributePrefix, WithRedacted, WithHashed, WithMaxAttributes), as
// string attributes in key order. Values Set kept out of a full baggage and
// Local values are never copied.
//
// The attributes are computed once per distinct baggage and reused for every
// span started under it, so that enriching a span costs a context lookup and
// an atomic load.
//
// A SpanProcessor is safe for concurrent use.
type SpanProcessor struct {
	e *enricher
}

var _ sdktrace.SpanProcessor = (*SpanProcessor)(nil)

// NewSpanProcessor returns a SpanProcessor configured by opts.
func NewSpanProcessor(opts ...Option) *SpanProcessor {
	return &SpanProcessor{e: newEnricher(newConfig(opts...), false)}
}

// OnStart adds the selected values of parent's baggage to s.
func (p *SpanProcessor) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if en := p.e.get(baggage.FromContext(parent), trace.SpanContextFromContext(parent).TraceID()); en != nil && len(en.attrs) > 0 {
		s.SetAttributes(en.attrs...)
	}
}

// OnEnd does nothing.
func (*SpanProcessor) OnEnd(sdktrace.ReadOnlySpan) {}

// Shutdown does nothing.
func (*SpanProcessor) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (*SpanProcessor) ForceFlush(context.Context) error { return nil }
