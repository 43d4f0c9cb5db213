// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

type otherKey struct{}

// TestExtractAgain: extracting the same fields into the context Extract
// returned, as otelgrpc's stats handler does after otelctxgrpc's, returns
// that context, whose values are what a second Extract would produce, and
// counts the drops once. Any other input, context or propagator extracts.
func TestExtractAgain(t *testing.T) {
	reader, newP := meteredPropagator(t)
	local := mustBaggage(t, "a=local,keep=1")
	const bag = "a=remote,b=2,c=3,d=4"
	fields := propagation.MapCarrier{"traceparent": suiteTraceparent, "tracestate": "x=1", "baggage": bag}
	for name, p := range map[string]*propagator{
		"local wins":  newP(WithMaxMembers(64)),
		"remote wins": newP(WithMerge(MergeRemoteWins), WithIngressDeny("c")),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := p.Extract(baggage.ContextWithBaggage(context.Background(), local), fields)
			again := p.Extract(ctx, propagation.MapCarrier{"traceparent": suiteTraceparent, "tracestate": "x=1", "baggage": bag})
			assert.True(t, ctx == again, "the same context")

			// A context that only wraps it is extracted into in full:
			// the values are the same.
			full := p.Extract(context.WithValue(ctx, otherKey{}, 1), fields)
			assert.False(t, full == ctx)
			assert.ElementsMatch(t, baggage.FromContext(full).Members(), baggage.FromContext(again).Members())
			assert.Equal(t, trace.SpanContextFromContext(full), trace.SpanContextFromContext(again))

			for field, v := range map[string]string{"traceparent": "", "tracestate": "x=2", "baggage": "e=5"} {
				changed := propagation.MapCarrier{"traceparent": suiteTraceparent, "tracestate": "x=1", "baggage": bag}
				changed[field] = v
				assert.False(t, p.Extract(ctx, changed) == ctx, field)
			}
			assert.False(t, newP().Extract(ctx, fields) == ctx, "another propagator")
		})
	}
	// c is denied under remote wins: once by each Extract of the baggage
	// but the repeated one (the first, the full one, two changed fields).
	assert.Equal(t, map[string]int64{"ingress.denied": 4}, counts(t, reader, "otelctx.baggage.dropped"))
}
