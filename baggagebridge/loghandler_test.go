// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

// jsonLogger returns a logger writing JSON lines through a LogHandler, and
// a function that returns the lines written so far, decoded.
func jsonLogger(t *testing.T, opts ...baggagebridge.Option) (*slog.Logger, func() []map[string]any) {
	var mu sync.Mutex
	var buf bytes.Buffer
	h := baggagebridge.NewLogHandler(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil), opts...)
	return slog.New(h), func() []map[string]any {
		mu.Lock()
		defer mu.Unlock()
		var out []map[string]any
		for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &m), line)
			delete(m, "time")
			out = append(out, m)
		}
		return out
	}
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func TestLogHandler(t *testing.T) {
	requireAmbient(t)
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx := withValues(t, context.Background(), "user.id", "42", "session", "s3cr3t", "other", "x")
	ctx, span := tp.Tracer("test").Start(ctx, "request")
	defer span.End()
	traceID, spanID := span.SpanContext().TraceID().String(), span.SpanContext().SpanID().String()

	logger, lines := jsonLogger(t,
		baggagebridge.WithKeys("user.id", "session"),
		baggagebridge.WithAttributePrefix("baggage."),
		baggagebridge.WithRedacted("session"))

	logger.InfoContext(ctx, "from ctx", "n", 1)
	asynctrack.Run(ctx, func(context.Context) {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			logger.Info("ambient, plain goroutine")
		}()
		wg.Wait()
	})
	logger.Info("no ctx, no scope")
	logger.With("svc", "a").WithGroup("g").InfoContext(ctx, "grouped", "n", 2)

	want := func(msg string, extra map[string]any) map[string]any {
		m := map[string]any{
			"level": "INFO", "msg": msg,
			"trace_id": traceID, "span_id": spanID,
			"baggage.user.id": "42", "baggage.session": "REDACTED",
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	got := lines()
	require.Len(t, got, 4)
	assert.Equal(t, want("from ctx", map[string]any{"n": 1.0}), got[0])
	assert.Equal(t, want("ambient, plain goroutine", nil), got[1])
	assert.Equal(t, map[string]any{"level": "INFO", "msg": "no ctx, no scope"}, got[2])
	assert.Equal(t, map[string]any{"level": "INFO", "msg": "grouped", "svc": "a", "g": map[string]any{
		"n": 2.0, "trace_id": traceID, "span_id": spanID, "baggage.user.id": "42", "baggage.session": "REDACTED",
	}}, got[3])
}

// TestLogHandlerOneSource checks that a record takes its span and values
// from one source: the ctx it is logged with when that carries a span, a
// baggage or a frame, else the ambient scope, never a mix of the two.
func TestLogHandlerOneSource(t *testing.T) {
	requireAmbient(t)
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("test")
	// Request A: alice, with a span. Request B: its own span, no baggage.
	a := withValues(t, context.Background(), "user.id", "alice")
	a, spanA := tracer.Start(a, "A")
	defer spanA.End()
	_, spanB := tracer.Start(context.Background(), "B")
	defer spanB.End()
	onlyBaggage := withValues(t, context.Background(), "user.id", "bob")

	logger, lines := jsonLogger(t)
	jobs := make(chan context.Context)
	done := make(chan struct{})
	var once sync.Once
	asynctrack.Run(a, func(context.Context) {
		// A worker started lazily, with a plain go statement, inside
		// request A, that logs B's job with B's ctx.
		once.Do(func() {
			go func() {
				defer close(done)
				for ctx := range jobs {
					logger.InfoContext(ctx, "job")
				}
			}()
		})
		jobs <- trace.ContextWithSpan(context.Background(), spanB) // B's span, no baggage
		jobs <- onlyBaggage                                        // a baggage, no span
		jobs <- context.Background()                               // nothing: the ambient scope, A
		close(jobs)
		<-done
	})
	got := lines()
	require.Len(t, got, 3)
	assert.Equal(t, spanB.SpanContext().TraceID().String(), got[0]["trace_id"], "B's span")
	assert.NotContains(t, got[0], "user.id", "never A's user on B's trace")
	assert.Equal(t, "bob", got[1]["user.id"])
	assert.NotContains(t, got[1], "trace_id", "never A's span on a record with its own baggage")
	assert.Equal(t, "alice", got[2]["user.id"])
	assert.Equal(t, spanA.SpanContext().SpanID().String(), got[2]["span_id"])
}

func TestLogHandlerRecordUntouched(t *testing.T) {
	var seen []slog.Record
	h := baggagebridge.NewLogHandler(recordFunc(func(r slog.Record) { seen = append(seen, r) }))
	// Past slog's inline attributes, added one by one, so that the record's
	// slice has room to spare: a handler that appended to it without Clone
	// would write into memory that copies of the record share.
	r := slog.NewRecord(timeZero, slog.LevelInfo, "m", 0)
	for i := range 8 {
		r.AddAttrs(slog.Int(fmt.Sprint("x", i), i))
	}
	require.NoError(t, h.Handle(withValues(t, context.Background(), "a", "1"), r))
	require.NoError(t, h.Handle(withValues(t, context.Background(), "a", "2"), r))
	require.Len(t, seen, 2)
	for i, got := range seen {
		assert.Equal(t, 9, got.NumAttrs(), "the handler adds to a copy")
		got.Attrs(func(a slog.Attr) bool {
			assert.NotEqual(t, "!BUG", a.Key, "slog saw a shared record modified")
			if a.Key == "a" {
				assert.Equal(t, fmt.Sprint(i+1), a.Value.String())
			}
			return true
		})
	}
	assert.Equal(t, 8, r.NumAttrs())
	assert.True(t, h.Enabled(context.Background(), slog.LevelInfo))
	assert.False(t, h.Enabled(context.Background(), slog.LevelDebug))
}

var timeZero = time.Time{}

func withSpan(s trace.Span) context.Context { return trace.ContextWithSpan(context.Background(), s) }

// recordFunc is a slog.Handler at level Info that passes each record to f.
type recordFunc func(slog.Record)

func (recordFunc) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (f recordFunc) Handle(_ context.Context, r slog.Record) error {
	f(r)
	return nil
}
func (f recordFunc) WithAttrs([]slog.Attr) slog.Handler { return f }
func (f recordFunc) WithGroup(string) slog.Handler      { return f }

// ctxRecorder is a slog.Handler that records the span in each record's ctx.
type ctxRecorder struct {
	mu    sync.Mutex
	spans []trace.SpanContext
}

func (*ctxRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *ctxRecorder) Handle(ctx context.Context, _ slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, trace.SpanContextFromContext(ctx))
	return nil
}
func (r *ctxRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *ctxRecorder) WithGroup(string) slog.Handler      { return r }

// TestLogHandlerPassesTheAmbientSpan: a record logged without a ctx inside
// a request's work reaches the next handler with the request's span in its
// ctx, as an OTel-aware handler needs it.
func TestLogHandlerPassesTheAmbientSpan(t *testing.T) {
	requireAmbient(t)
	rec := &ctxRecorder{}
	logger := slog.New(baggagebridge.NewLogHandler(rec))
	tp := sdktrace.NewTracerProvider()
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	defer span.End()
	asynctrack.Run(ctx, func(context.Context) { logger.Info("no ctx") })
	logger.Info("outside")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.spans, 2)
	assert.Equal(t, span.SpanContext(), rec.spans[0])
	assert.False(t, rec.spans[1].IsValid())
}

// TestLogHandlerWrappingTheDefaultHandler: wrapping slog's initial default
// handler and making it the default does not loop.
func TestLogHandlerWrappingTheDefaultHandler(t *testing.T) {
	if fmt.Sprintf("%T", slog.Default().Handler()) != "*slog.defaultHandler" {
		t.Skip("slog's default was replaced before this test")
	}
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	var reported []error
	prevErr := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { reported = append(reported, err) }))
	t.Cleanup(func() { otel.SetErrorHandler(prevErr) })
	var buf bytes.Buffer
	prevOut, prevFlags := log.Writer(), log.Flags()
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetOutput(prevOut); log.SetFlags(prevFlags) })

	done := make(chan struct{})
	go func() {
		defer close(done)
		slog.SetDefault(slog.New(baggagebridge.NewLogHandler(slog.Default().Handler())))
		slog.Info("first line")
		log.Print("through log")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("logging through a LogHandler that wraps the default handler hangs")
	}
	assert.Contains(t, buf.String(), "first line")
	assert.Contains(t, buf.String(), "through log")
	require.Len(t, reported, 1)
	assert.ErrorContains(t, reported[0], "initial default handler")
}
