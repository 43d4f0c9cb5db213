// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package jaegertest_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/examples/internal/jaegertest"
)

// TestJaegerRoundTrip exports a two-span trace with the SDK over OTLP/HTTP to
// the real Jaeger and reads it back through both query APIs: the whole pipe
// the integration tests of the other packages rely on.
func TestJaegerRoundTrip(t *testing.T) {
	exp := jaegertest.Exporter(t)
	service := "jaegertest-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))),
	)
	tracer := tp.Tracer("jaegertest")

	ctx, parent := tracer.Start(context.Background(), "request", trace.WithAttributes(
		attribute.String("request.user", "ada"),
		attribute.Int64("request.size", 1<<40),
	))
	_, child := tracer.Start(ctx, "work", trace.WithAttributes(
		attribute.Bool("async", false),
		attribute.Float64("ratio", 0.25),
	))
	child.AddEvent("resumed", trace.WithAttributes(attribute.Int("async.id", 7)))
	child.End()
	parent.End()
	require.NoError(t, tp.Shutdown(context.Background()))

	want := func(t *testing.T, tr jaegertest.Trace) {
		t.Helper()
		require.Equal(t, parent.SpanContext().TraceID(), tr.ID)
		require.Len(t, tr.Spans, 2)
		assert.Equal(t, []string{service}, tr.Services())

		p, ok := tr.Span("request")
		require.True(t, ok, "span request")
		assert.Equal(t, parent.SpanContext().SpanID(), p.SpanID)
		assert.False(t, p.ParentID.IsValid(), "request is the root")
		assert.Equal(t, "ada", p.Attributes["request.user"])
		assert.Equal(t, int64(1<<40), p.Attributes["request.size"])

		c, ok := tr.Span("work")
		require.True(t, ok, "span work")
		assert.Equal(t, tr.ID, c.TraceID)
		assert.Equal(t, child.SpanContext().SpanID(), c.SpanID)
		assert.Equal(t, p.SpanID, c.ParentID, "work is a child of request")
		assert.Equal(t, service, c.Service)
		assert.Equal(t, false, c.Attributes["async"])
		assert.Equal(t, 0.25, c.Attributes["ratio"])
		require.Len(t, c.Events, 1)
		assert.Equal(t, "resumed", c.Events[0].Name)
		assert.Equal(t, map[string]any{"async.id": int64(7)}, c.Events[0].Attributes)
	}

	t.Run("v1 by service", func(t *testing.T) {
		traces := jaegertest.Traces(t, service, 2)
		require.Len(t, traces, 1)
		want(t, traces[0])
	})
	t.Run("v3 by trace ID", func(t *testing.T) {
		want(t, jaegertest.TraceByID(t, parent.SpanContext().TraceID(), 2))
	})
}
