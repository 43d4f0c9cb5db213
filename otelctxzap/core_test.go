// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxzap_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/otelctxzap"
)

// TestCore checks what entries carry: the span's IDs and the selected
// values, named, redacted and hashed as the options say, from a ctx field,
// from a ctx given to With, and from the ambient scope, on the entry's own
// goroutine and in a plain goroutine; nothing outside every scope; and the
// ctx field itself is never written.
func TestCore(t *testing.T) {
	requireAmbient(t)
	tp := sdktrace.NewTracerProvider()
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	ctx := withValues(t, context.Background(), "user.id", "42", "session", "s3cr3t", "email", "a@b.c", "other", "x")
	ctx, span := tp.Tracer("test").Start(ctx, "request")
	defer span.End()
	traceID, spanID := span.SpanContext().TraceID().String(), span.SpanContext().SpanID().String()

	next, lines := jsonCore(t, zapcore.InfoLevel)
	logger := zap.New(otelctxzap.NewCore(next,
		baggagebridge.WithKeys("user.id", "session", "email"),
		baggagebridge.WithAttributePrefix("baggage."),
		baggagebridge.WithRedacted("session"),
		baggagebridge.WithHashed([]byte("k"), "email")))

	logger.Info("ctx field", zap.Int("n", 1), zap.Any("ctx", ctx))
	logger.Info("no ctx, no scope")
	asynctrack.Run(ctx, func(context.Context) {
		logger.Info("ambient")
		done := make(chan struct{})
		go func() { defer close(done); logger.Info("ambient, plain goroutine") }()
		<-done
	})
	withCtx := logger.With(zap.String("svc", "a"), zap.Any("context", ctx))
	withCtx.Info("ctx given to With")
	withCtx.With(zap.Namespace("ns")).Info("in a namespace", zap.Int("n", 2))
	logger.Debug("below the level", zap.Any("ctx", ctx))

	got := lines()
	require.Len(t, got, 6)
	mac := hmac.New(sha256.New, []byte("k"))
	mac.Write([]byte("a@b.c"))
	email := hex.EncodeToString(mac.Sum(nil)[:16])
	want := func(msg string, extra map[string]any) map[string]any {
		m := map[string]any{
			"level": "info", "msg": msg, "trace_id": traceID, "span_id": spanID,
			"baggage.user.id": "42", "baggage.session": "REDACTED", "baggage.email": email,
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	assert.Equal(t, want("ctx field", map[string]any{"n": 1.0}), got[0])
	assert.Equal(t, map[string]any{"level": "info", "msg": "no ctx, no scope"}, got[1])
	assert.Equal(t, want("ambient", nil), got[2])
	assert.Equal(t, want("ambient, plain goroutine", nil), got[3])
	assert.Equal(t, want("ctx given to With", map[string]any{"svc": "a"}), got[4])
	assert.Equal(t, map[string]any{"level": "info", "msg": "in a namespace", "svc": "a", "ns": map[string]any{
		"n": 2.0, "trace_id": traceID, "span_id": spanID,
		"baggage.user.id": "42", "baggage.session": "REDACTED", "baggage.email": email,
	}}, got[5])
}

// TestCoreOneSource checks that an entry takes its span and values from one
// source: its ctx when that carries a span, a baggage or a frame, else the
// ambient scope, never a mix. A worker started lazily with a plain go
// statement inside request A logs the jobs of others with their ctx.
func TestCoreOneSource(t *testing.T) {
	requireAmbient(t)
	tp := sdktrace.NewTracerProvider()
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	tracer := tp.Tracer("test")
	a, spanA := tracer.Start(withValues(t, context.Background(), "user.id", "alice"), "A")
	defer spanA.End()
	b, spanB := tracer.Start(context.Background(), "B") // B: a span, no baggage
	defer spanB.End()
	onlyBaggage := withValues(t, context.Background(), "user.id", "bob")

	next, lines := jsonCore(t, zapcore.InfoLevel)
	logger := zap.New(otelctxzap.NewCore(next, baggagebridge.WithKeys("user.id")))
	type job struct {
		msg string
		ctx context.Context
		log *zap.Logger
	}
	jobs := make(chan job)
	done := make(chan struct{})
	var once sync.Once
	asynctrack.Run(a, func(context.Context) {
		once.Do(func() {
			go func() {
				defer close(done)
				for j := range jobs {
					if j.ctx != nil {
						j.log.Info(j.msg, zap.Any("ctx", j.ctx))
					} else {
						j.log.Info(j.msg)
					}
				}
			}()
		})
		jobs <- job{"B's ctx", b, logger}
		jobs <- job{"a baggage, no span", onlyBaggage, logger}
		jobs <- job{"B's ctx given to With", nil, logger.With(zap.Any("ctx", b))}
		jobs <- job{"an empty ctx", context.Background(), logger}
		jobs <- job{"no ctx", nil, logger}
		close(jobs)
		<-done
	})
	got := lines()
	require.Len(t, got, 5)
	for _, i := range []int{0, 2} {
		assert.Equal(t, spanB.SpanContext().TraceID().String(), got[i]["trace_id"], got[i]["msg"])
		assert.Equal(t, spanB.SpanContext().SpanID().String(), got[i]["span_id"], got[i]["msg"])
		assert.NotContains(t, got[i], "user.id", "%s: never A's user on B's trace", got[i]["msg"])
	}
	assert.Equal(t, map[string]any{"level": "info", "msg": "a baggage, no span", "user.id": "bob"}, got[1],
		"never A's span on an entry with its own baggage")
	for _, i := range []int{3, 4} {
		assert.Equal(t, "alice", got[i]["user.id"], got[i]["msg"])
		assert.Equal(t, spanA.SpanContext().SpanID().String(), got[i]["span_id"], got[i]["msg"])
	}
}

// TestCoreMiddleware serves requests through baggagebridge.Middleware on a
// loopback server: a handler that logs without a ctx, on its own goroutine
// and in a plain goroutine, writes the request's trace, the value it came
// with and the one an auth step set after the edge; concurrent requests
// each their own.
func TestCoreMiddleware(t *testing.T) {
	requireAmbient(t)
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	next, lines := jsonCore(t, zapcore.InfoLevel)
	logger := zap.New(otelctxzap.NewCore(next, baggagebridge.WithKeys("tenant.id", "user.id")))
	auth := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, err := baggagebridge.Set(r.Context(), "user.id", r.URL.Query().Get("user"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			h.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	handler := baggagebridge.Middleware(baggagebridge.WithPropagators(prop))(auth(http.HandlerFunc(
		func(http.ResponseWriter, *http.Request) {
			logger.Info("handler")
			done := make(chan struct{})
			go func() { defer close(done); logger.Info("goroutine") }()
			<-done
		})))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener.Close()
	srv.Listener = lis
	srv.Start()
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()

	const n = 20
	traces := make([]trace.SpanContext, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sc := trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{1, byte(i)}, SpanID: trace.SpanID{2, byte(i)}, TraceFlags: trace.FlagsSampled,
			})
			traces[i] = sc
			ctx := trace.ContextWithRemoteSpanContext(withValues(t, context.Background(), "tenant.id", tenant(i)), sc)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?user="+user(i), nil)
			require.NoError(t, err)
			prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
			resp, err := client.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
	wg.Wait()
	got := lines()
	require.Len(t, got, 2*n)
	seen := map[string]int{}
	for _, line := range got {
		i := -1
		for j, sc := range traces {
			if line["trace_id"] == sc.TraceID().String() {
				i = j
			}
		}
		require.GreaterOrEqual(t, i, 0, "a line of a request's trace: %v", line)
		assert.Equal(t, traces[i].SpanID().String(), line["span_id"], "the remote parent")
		assert.Equal(t, tenant(i), line["tenant.id"], "the value the request came with")
		assert.Equal(t, user(i), line["user.id"], "the value set after the edge")
		seen[line["msg"].(string)]++
	}
	assert.Equal(t, map[string]int{"handler": n, "goroutine": n}, seen)
}

func tenant(i int) string { return "t" + string(rune('a'+i)) }
func user(i int) string   { return "u" + string(rune('a'+i)) }

// TestCoreCheck checks that next decides which entries are written, and
// where: a tee writes each entry to the cores whose level it reaches, a
// sampler drops what it samples out, and each written entry is enriched.
func TestCoreCheck(t *testing.T) {
	debug, debugLines := jsonCore(t, zapcore.DebugLevel)
	warn, warnLines := jsonCore(t, zapcore.WarnLevel)
	core := otelctxzap.NewCore(zapcore.NewTee(debug, warn))
	assert.True(t, core.Enabled(zapcore.DebugLevel))
	assert.Equal(t, zapcore.DebugLevel, zapcore.LevelOf(core))
	logger := zap.New(core)
	ctx := withValues(t, context.Background(), "user.id", "42")
	logger.Debug("debug", zap.Any("ctx", ctx))
	logger.Warn("warn", zap.Any("ctx", ctx))
	entry := func(level, msg string) map[string]any {
		return map[string]any{"level": level, "msg": msg, "user.id": "42"}
	}
	assert.Equal(t, []map[string]any{entry("debug", "debug"), entry("warn", "warn")}, debugLines())
	assert.Equal(t, []map[string]any{entry("warn", "warn")}, warnLines(), "the warn core never sees a debug entry")

	// A sampler that writes the first of each message per hour, and
	// nothing more of it.
	next, lines := jsonCore(t, zapcore.InfoLevel)
	sampled := zap.New(otelctxzap.NewCore(zapcore.NewSamplerWithOptions(next, time.Hour, 1, 0)))
	for range 3 {
		sampled.Info("again", zap.Any("ctx", ctx))
	}
	assert.Equal(t, []map[string]any{entry("info", "again")}, lines())
	assert.Equal(t, zapcore.WarnLevel, zapcore.LevelOf(otelctxzap.NewCore(warn)))
	assert.False(t, otelctxzap.NewCore(warn).Enabled(zapcore.InfoLevel))
}

// TestCoreWriteErrorsAndSync checks that next's write errors reach the
// logger's ErrorOutput and that Sync syncs next.
func TestCoreWriteErrorsAndSync(t *testing.T) {
	out := &lockedBuffer{}
	w := &lockedBuffer{}
	failing := zapcore.NewCore(zapcore.NewJSONEncoder(encoderConfig()), failingWriter{w}, zapcore.InfoLevel)
	logger := zap.New(otelctxzap.NewCore(failing), zap.ErrorOutput(out))
	logger.Info("lost")
	require.Len(t, out.lines(), 1)
	assert.Contains(t, out.lines()[0], "disk full")

	next := zapcore.NewCore(zapcore.NewJSONEncoder(encoderConfig()), w, zapcore.InfoLevel)
	require.NoError(t, zap.New(otelctxzap.NewCore(next)).Sync())
	assert.Equal(t, 1, w.syncs)
}

type failingWriter struct{ *lockedBuffer }

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestCoreDirectWrite checks a core written to without Check, as a
// zapcore.Core may be: the entry is enriched all the same.
func TestCoreDirectWrite(t *testing.T) {
	next, lines := jsonCore(t, zapcore.InfoLevel)
	core := otelctxzap.NewCore(next).With([]zapcore.Field{zap.Any("ctx", withValues(t, context.Background(), "k", "v"))})
	require.NoError(t, core.Write(zapcore.Entry{Level: zapcore.InfoLevel, Message: "m"}, []zapcore.Field{zap.Int("n", 1)}))
	assert.Equal(t, []map[string]any{{"level": "info", "msg": "m", "n": 1.0, "k": "v"}}, lines())
}

// TestCoreWithContextAlone checks that With of a context alone, the
// per-request logger, leaves next as it is (no copy of its encoder), and
// that With of other fields reaches next without the context.
func TestCoreWithContextAlone(t *testing.T) {
	next, lines := jsonCore(t, zapcore.InfoLevel)
	counting := &withCounter{Core: next}
	logger := zap.New(otelctxzap.NewCore(counting))
	ctx := withValues(t, context.Background(), "k", "v")
	logger.With(zap.Any("ctx", ctx)).Info("a")
	assert.Zero(t, counting.withs)
	logger.With(zap.Any("ctx", ctx), zap.String("f", "g")).Info("b")
	assert.Equal(t, 1, counting.withs)
	assert.Equal(t, []map[string]any{
		{"level": "info", "msg": "a", "k": "v"},
		{"level": "info", "msg": "b", "f": "g", "k": "v"},
	}, lines())
}

// withCounter counts the calls of its With.
type withCounter struct {
	zapcore.Core
	withs int
}

func (c *withCounter) With(fields []zapcore.Field) zapcore.Core {
	c.withs++
	return c.Core.With(fields)
}
