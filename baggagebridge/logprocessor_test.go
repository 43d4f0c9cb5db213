// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/internal/logrecorder"
)

func TestLogProcessor(t *testing.T) {
	exp := &logrecorder.Exporter{}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(baggagebridge.NewLogProcessor(baggagebridge.WithKeys("user.id", "user.email"), baggagebridge.WithRedacted("user.email"))),
		sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
	)
	defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()
	logger := lp.Logger("test")
	emit := func(ctx context.Context, body string) {
		var r otellog.Record
		r.SetBody(attribute.StringValue(body))
		logger.Emit(ctx, r)
	}
	tp := sdktrace.NewTracerProvider()
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	ctx := withValues(t, context.Background(), "user.id", "42", "user.email", "a@b.c", "other", "x")
	ctx, span := tp.Tracer("test").Start(ctx, "request")
	defer span.End()

	emit(ctx, "with ctx")
	emit(context.Background(), "outside")
	if ambientBuild(t) {
		asynctrack.Run(ctx, func(context.Context) {
			emit(context.Background(), "no ctx")
			done := make(chan struct{})
			go func() { defer close(done); emit(context.Background(), "plain go") }()
			<-done
		})
	}

	got := exp.ByBody()
	want := map[string]string{"user.id": "42", "user.email": "REDACTED"}
	assert.Equal(t, want, logrecorder.Attrs(got["with ctx"]))
	assert.Empty(t, logrecorder.Attrs(got["outside"]))
	assert.False(t, got["outside"].TraceID().IsValid())
	if ambientBuild(t) {
		for _, body := range []string{"no ctx", "plain go"} {
			assert.Equal(t, want, logrecorder.Attrs(got[body]), body)
			assert.Equal(t, span.SpanContext().TraceID(), got[body].TraceID(), "%s: the ambient span's IDs", body)
			assert.Equal(t, span.SpanContext().SpanID(), got[body].SpanID())
		}
	}
}

// TestLogProcessorOneSource is TestLogHandlerOneSource through the Logs SDK.
func TestLogProcessorOneSource(t *testing.T) {
	requireAmbient(t)
	exp := &logrecorder.Exporter{}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(baggagebridge.NewLogProcessor(baggagebridge.WithKeys("user.id"))),
		sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
	)
	defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()
	logger := lp.Logger("test")
	emit := func(ctx context.Context, body string) {
		var r otellog.Record
		r.SetBody(attribute.StringValue(body))
		logger.Emit(ctx, r)
	}
	tp := sdktrace.NewTracerProvider()
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	a := withValues(t, context.Background(), "user.id", "alice")
	a, spanA := tp.Tracer("test").Start(a, "A")
	defer spanA.End()
	_, spanB := tp.Tracer("test").Start(context.Background(), "B")
	defer spanB.End()

	asynctrack.Run(a, func(context.Context) {
		done := make(chan struct{})
		go func() { // started inside A, working for B
			defer close(done)
			emit(trace.ContextWithSpan(context.Background(), spanB), "B's span")
			emit(withValues(t, context.Background(), "user.id", "bob"), "baggage only")
			emit(context.Background(), "nothing")
		}()
		<-done
	})
	got := exp.ByBody()
	assert.Equal(t, spanB.SpanContext().TraceID(), got["B's span"].TraceID())
	assert.Empty(t, logrecorder.Attrs(got["B's span"]), "never A's user on B's trace")
	assert.Equal(t, map[string]string{"user.id": "bob"}, logrecorder.Attrs(got["baggage only"]))
	assert.False(t, got["baggage only"].TraceID().IsValid(), "never A's span on a record with its own baggage")
	assert.Equal(t, map[string]string{"user.id": "alice"}, logrecorder.Attrs(got["nothing"]))
	assert.Equal(t, spanA.SpanContext().SpanID(), got["nothing"].SpanID())
}

// ambientBuild reports whether code without a ctx sees its scope.
func ambientBuild(t *testing.T) bool {
	s := asynctrack.NewStore[bool]()
	ok := false
	s.Run(context.Background(), true, func(context.Context) { ok, _ = s.Current() })
	return ok
}

// TestLogHandlerIntoOtelslog chains slog → LogHandler → otelslog → the Logs
// SDK: a record logged without a ctx inside a request carries the request's
// real trace and span IDs as the record's own, its values as attributes, and
// no trace_id/span_id string attributes beside them.
func TestLogHandlerIntoOtelslog(t *testing.T) {
	if !ambientBuild(t) {
		t.Skip("ambient lookups need the default build")
	}
	exp := &logrecorder.Exporter{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()
	logger := slog.New(baggagebridge.NewLogHandler(otelslog.NewHandler("test", otelslog.WithLoggerProvider(lp)),
		baggagebridge.WithKeys("user.id")))
	tp := sdktrace.NewTracerProvider()
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	ctx, span := tp.Tracer("test").Start(withValues(t, context.Background(), "user.id", "42"), "request")
	defer span.End()

	asynctrack.Run(ctx, func(context.Context) {
		logger.Info("no ctx")
		done := make(chan struct{})
		go func() { defer close(done); logger.With("k", "v").Info("plain go") }()
		<-done
	})
	got := exp.ByBody()
	for _, body := range []string{"no ctx", "plain go"} {
		r := got[body]
		require.NotNil(t, r, body)
		assert.Equal(t, span.SpanContext().TraceID(), r.TraceID(), body)
		assert.Equal(t, span.SpanContext().SpanID(), r.SpanID(), body)
		attrs := logrecorder.Attrs(r)
		assert.Equal(t, "42", attrs["user.id"], body)
		assert.NotContains(t, attrs, "trace_id", "%s: the IDs once, as the record's", body)
		assert.NotContains(t, attrs, "span_id", body)
	}
}

// TestLogProcessorOtelslog sends slog records through contrib's otelslog
// bridge alone (no LogHandler) to the Logs SDK, where LogProcessor adds the
// values and the trace context: from the record's ctx when it has one,
// from the ambient scope when it has none (a plain goroutine included), by
// the one-source rule, and nothing outside every scope.
func TestLogProcessorOtelslog(t *testing.T) {
	requireAmbient(t)
	exp := &logrecorder.Exporter{}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(baggagebridge.NewLogProcessor(baggagebridge.WithKeys("user.id"))),
		sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
	)
	defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()
	logger := slog.New(otelslog.NewHandler("test", otelslog.WithLoggerProvider(lp)))
	tp := sdktrace.NewTracerProvider()
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	a, spanA := tp.Tracer("test").Start(withValues(t, context.Background(), "user.id", "alice", "other", "x"), "A")
	defer spanA.End()
	b, spanB := tp.Tracer("test").Start(context.Background(), "B")
	defer spanB.End()

	logger.InfoContext(a, "with ctx")
	logger.Info("no ctx, no scope")
	asynctrack.Run(a, func(context.Context) {
		logger.Info("ambient")
		var wg sync.WaitGroup
		wg.Go(func() {
			logger.Info("ambient, plain goroutine")
			logger.InfoContext(b, "B's ctx")
		})
		wg.Wait()
	})

	got := exp.ByBody()
	for _, body := range []string{"with ctx", "ambient", "ambient, plain goroutine"} {
		require.Contains(t, got, body)
		assert.Equal(t, map[string]string{"user.id": "alice"}, logrecorder.Attrs(got[body]), body)
		assert.Equal(t, spanA.SpanContext().TraceID(), got[body].TraceID(), body)
		assert.Equal(t, spanA.SpanContext().SpanID(), got[body].SpanID(), body)
	}
	require.Contains(t, got, "no ctx, no scope")
	assert.Empty(t, logrecorder.Attrs(got["no ctx, no scope"]))
	assert.False(t, got["no ctx, no scope"].TraceID().IsValid())
	require.Contains(t, got, "B's ctx")
	assert.Equal(t, spanB.SpanContext().TraceID(), got["B's ctx"].TraceID())
	assert.Empty(t, logrecorder.Attrs(got["B's ctx"]), "never A's user on B's trace")
}
