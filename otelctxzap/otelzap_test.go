// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxzap_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/bridges/otelzap"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/internal/logrecorder"
	"github.com/otelctx/otelctx/otelctxzap"
)

// TestOtelzapLogProcessor sends zap entries through contrib's otelzap
// bridge to the Logs SDK, where baggagebridge.NewLogProcessor adds the values
// and the trace context: from the ctx field when the entry has one, from
// the ambient scope when it has none (a plain goroutine included), by the
// one-source rule (B's ctx inside A's scope carries B's trace and nothing of
// A), and nothing outside every scope. No otelctxzap wrapper is involved.
func TestOtelzapLogProcessor(t *testing.T) {
	requireAmbient(t)
	exp := &logrecorder.Exporter{}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(baggagebridge.NewLogProcessor(baggagebridge.WithKeys("user.id", "session"), baggagebridge.WithRedacted("session"))),
		sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
	)
	defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()
	logger := zap.New(otelzap.NewCore("test", otelzap.WithLoggerProvider(lp)))
	tp := sdktrace.NewTracerProvider()
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	a, spanA := tp.Tracer("test").Start(withValues(t, context.Background(), "user.id", "alice", "session", "s", "other", "x"), "A")
	defer spanA.End()
	b, spanB := tp.Tracer("test").Start(context.Background(), "B")
	defer spanB.End()

	logger.Info("ctx field", zap.Any("ctx", a))
	logger.With(zap.Any("context", a)).Info("ctx given to With")
	logger.Info("no ctx, no scope")
	asynctrack.Run(a, func(context.Context) {
		logger.Info("ambient")
		var wg sync.WaitGroup
		wg.Go(func() {
			logger.Info("ambient, plain goroutine")
			logger.Info("B's ctx", zap.Any("ctx", b))
		})
		wg.Wait()
	})

	got := exp.ByBody()
	want := map[string]string{"user.id": "alice", "session": "REDACTED"}
	for _, body := range []string{"ctx field", "ctx given to With", "ambient", "ambient, plain goroutine"} {
		require.Contains(t, got, body)
		assert.Equal(t, want, logrecorder.Attrs(got[body]), body)
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

// TestCoreAroundOtelzap wraps otelzap's core itself, with no LogProcessor:
// the records get the values as attributes and the span's IDs as their own
// (once: no trace_id attribute), from the entry's one source, so B's ctx
// inside A's scope gives B's trace and nothing of A. Beside it in a tee, a
// wrapped JSON core and an unwrapped otelzap core agree on every entry.
func TestCoreAroundOtelzap(t *testing.T) {
	requireAmbient(t)
	exp := &logrecorder.Exporter{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()
	tp := sdktrace.NewTracerProvider()
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	a, spanA := tp.Tracer("test").Start(withValues(t, context.Background(), "user.id", "alice"), "A")
	defer spanA.End()
	b, spanB := tp.Tracer("test").Start(context.Background(), "B")
	defer spanB.End()

	logger := zap.New(otelctxzap.NewCore(otelzap.NewCore("test", otelzap.WithLoggerProvider(lp)), baggagebridge.WithKeys("user.id")))
	asynctrack.Run(a, func(context.Context) {
		logger.Info("ambient")
		logger.Info("B's ctx", zap.Any("ctx", b))
		logger.With(zap.Any("ctx", b)).Info("B's ctx given to With")
	})
	logger.Info("nothing")
	got := exp.ByBody()
	require.Len(t, got, 4)
	assert.Equal(t, map[string]string{"user.id": "alice"}, logrecorder.Attrs(got["ambient"]))
	assert.Equal(t, spanA.SpanContext().TraceID(), got["ambient"].TraceID())
	assert.Equal(t, spanA.SpanContext().SpanID(), got["ambient"].SpanID())
	for _, body := range []string{"B's ctx", "B's ctx given to With"} {
		assert.Empty(t, logrecorder.Attrs(got[body]), "%s: never A's user on B's trace", body)
		assert.Equal(t, spanB.SpanContext().TraceID(), got[body].TraceID(), body)
	}
	assert.Empty(t, logrecorder.Attrs(got["nothing"]))
	assert.False(t, got["nothing"].TraceID().IsValid())

	// The tee: the JSON core wrapped, otelzap's beside it with LogProcessor.
	exp2 := &logrecorder.Exporter{}
	lp2 := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(baggagebridge.NewLogProcessor(baggagebridge.WithKeys("user.id"))),
		sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp2)))
	defer func() { require.NoError(t, lp2.Shutdown(context.Background())) }()
	json, lines := jsonCore(t, zapcore.InfoLevel)
	tee := zap.New(zapcore.NewTee(otelctxzap.NewCore(json, baggagebridge.WithKeys("user.id")),
		otelzap.NewCore("test", otelzap.WithLoggerProvider(lp2))))
	asynctrack.Run(a, func(context.Context) {
		tee.Info("ambient")
		tee.Info("B's ctx", zap.Any("ctx", b))
	})
	got = exp2.ByBody()
	require.Len(t, got, 2)
	l := lines()
	require.Len(t, l, 2)
	assert.Equal(t, "alice", l[0]["user.id"])
	assert.Equal(t, spanA.SpanContext().TraceID().String(), l[0]["trace_id"])
	assert.Equal(t, map[string]string{"user.id": "alice"}, logrecorder.Attrs(got["ambient"]))
	assert.Equal(t, spanA.SpanContext().TraceID(), got["ambient"].TraceID())
	assert.Equal(t, map[string]any{"level": "info", "msg": "B's ctx", "trace_id": spanB.SpanContext().TraceID().String(),
		"span_id": spanB.SpanContext().SpanID().String()}, l[1])
	assert.Empty(t, logrecorder.Attrs(got["B's ctx"]))
	assert.Equal(t, spanB.SpanContext().TraceID(), got["B's ctx"].TraceID())
}
