// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// parentProvider is a TracerProvider whose tracers start each span with
// the TracerProvider of its parent span. Outside any span it starts
// non-recording spans.
type parentProvider struct{ embedded.TracerProvider }

func (parentProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return parentTracer{name: name, opts: opts}
}

type parentTracer struct {
	embedded.Tracer
	name string
	opts []trace.TracerOption
}

func (t parentTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return trace.SpanFromContext(ctx).TracerProvider().Tracer(t.name, t.opts...).Start(ctx, name, opts...)
}
