// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package loggers_test shows logrus through contrib's otellogrus bridge and
// the OpenTelemetry Logs SDK, where baggagebridge.NewLogProcessor adds a
// request's values and trace context to every record, whether the entry was
// logged with the request's ctx or without one. It is here, in the examples
// module, so that no library module requires logrus.
package loggers_test

import (
	"context"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/bridges/otellogrus"
	"go.opentelemetry.io/otel/baggage"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.uber.org/goleak"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/internal/logrecorder"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestOtellogrusLogProcessor: entries logged with a ctx (WithContext) carry
// its values and trace; entries without one carry the ambient scope's, in
// the request's goroutine and in a plain goroutine; an entry with another
// request's ctx carries that request's trace and nothing of the ambient
// one; entries outside every scope carry nothing.
func TestOtellogrusLogProcessor(t *testing.T) {
	exp := &logrecorder.Exporter{}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(baggagebridge.NewLogProcessor(baggagebridge.WithKeys("user.id", "session"), baggagebridge.WithRedacted("session"))),
		sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
	)
	defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()
	logger := logrus.New()
	logger.SetOutput(discard{})
	logger.AddHook(otellogrus.NewHook("test", otellogrus.WithLoggerProvider(lp)))
	tp := sdktrace.NewTracerProvider()
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	a, spanA := tp.Tracer("test").Start(withValues(t, "user.id", "alice", "session", "s", "other", "x"), "A")
	defer spanA.End()
	b, spanB := tp.Tracer("test").Start(context.Background(), "B")
	defer spanB.End()

	logger.WithContext(a).Info("with ctx")
	logger.Info("no ctx, no scope")
	asynctrack.Run(a, func(context.Context) {
		logger.Info("ambient")
		var wg sync.WaitGroup
		wg.Go(func() {
			logger.WithField("k", "v").Info("ambient, plain goroutine")
			logger.WithContext(b).Info("B's ctx")
		})
		wg.Wait()
	})

	got := exp.ByBody()
	want := map[string]string{"user.id": "alice", "session": "REDACTED"}
	for _, body := range []string{"with ctx", "ambient", "ambient, plain goroutine"} {
		require.Contains(t, got, body)
		attrs := logrecorder.Attrs(got[body])
		delete(attrs, "k")
		assert.Equal(t, want, attrs, body)
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

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// withValues returns a context with the baggage members given as key,
// value pairs.
func withValues(t *testing.T, kv ...string) context.Context {
	t.Helper()
	var ms []baggage.Member
	for i := 0; i < len(kv); i += 2 {
		m, err := baggage.NewMemberRaw(kv[i], kv[i+1])
		require.NoError(t, err)
		ms = append(ms, m)
	}
	bag, err := baggage.New(ms...)
	require.NoError(t, err)
	return baggage.ContextWithBaggage(context.Background(), bag)
}
