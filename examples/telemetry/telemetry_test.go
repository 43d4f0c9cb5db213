// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package telemetry

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// A span started through parentProvider goes to the provider of its
// parent, so that each service's async spans land in that service.
func TestParentProvider(t *testing.T) {
	recA, recB := tracetest.NewSpanRecorder(), tracetest.NewSpanRecorder()
	a := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recA))
	b := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recB))
	tracer := parentProvider{}.Tracer("test")

	for _, tp := range []*sdktrace.TracerProvider{a, b} {
		ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
		_, child := tracer.Start(ctx, "child")
		assert.True(t, child.SpanContext().IsValid())
		assert.Equal(t, parent.SpanContext().TraceID(), child.SpanContext().TraceID())
		child.End()
		parent.End()
	}
	require.Len(t, recA.Ended(), 2)
	require.Len(t, recB.Ended(), 2)
	assert.Equal(t, "child", recA.Ended()[0].Name())
	assert.Equal(t, "child", recB.Ended()[0].Name())

	_, orphan := tracer.Start(context.Background(), "orphan")
	assert.False(t, orphan.IsRecording(), "no parent, no provider to record with")
}

func TestNewSink(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	s := NewSink()
	assert.NotNil(t, s.Recorder)
	assert.Nil(t, s.Exporter)

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	s = NewSink()
	assert.Nil(t, s.Recorder)
	assert.NotNil(t, s.Exporter)
	assert.Equal(t, "http://127.0.0.1:4318", s.Endpoint)

	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces")
	assert.Equal(t, "http://127.0.0.1:4318/v1/traces", NewSink().Endpoint, "the traces endpoint wins")
}
