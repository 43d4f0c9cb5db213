// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

// withValues returns ctx with the values kv (key, value, ...) set.
func withValues(t testing.TB, ctx context.Context, kv ...string) context.Context {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		var err error
		ctx, err = baggagebridge.Set(ctx, kv[i], kv[i+1])
		require.NoError(t, err)
	}
	return ctx
}

// spanAttrs starts and ends a span under ctx with a processor configured by
// opts and returns its attributes, after checking that a WrapSpanProcessor
// gives the exported span the same.
func spanAttrs(t *testing.T, ctx context.Context, opts ...baggagebridge.Option) map[string]string {
	t.Helper()
	got := make([]map[string]string, 2)
	for i, procs := range [][]func(*tracetest.SpanRecorder) sdktrace.SpanProcessor{
		{
			func(*tracetest.SpanRecorder) sdktrace.SpanProcessor { return baggagebridge.NewSpanProcessor(opts...) },
			func(rec *tracetest.SpanRecorder) sdktrace.SpanProcessor { return rec },
		},
		{func(rec *tracetest.SpanRecorder) sdktrace.SpanProcessor {
			return baggagebridge.WrapSpanProcessor(rec, opts...)
		}},
	} {
		rec := tracetest.NewSpanRecorder()
		var tpOpts []sdktrace.TracerProviderOption
		for _, p := range procs {
			tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(p(rec)))
		}
		tp := sdktrace.NewTracerProvider(tpOpts...)
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		_, span := tp.Tracer("test").Start(ctx, "span")
		span.End()
		ended := rec.Ended()
		require.Len(t, ended, 1)
		got[i] = attrMap(ended[0].Attributes())
	}
	require.Equal(t, got[0], got[1], "NewSpanProcessor and WrapSpanProcessor")
	return got[0]
}

func attrMap(attrs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, a := range attrs {
		m[string(a.Key)] = a.Value.Emit()
	}
	return m
}

func TestSpanProcessorSelection(t *testing.T) {
	ctx := withValues(t, context.Background(),
		"user.id", "42", "user.email", "ada@example.com", "tenant", "acme", "session", "s3cr3t", "zone", "eu")
	secret := []byte("k")
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("ada@example.com"))
	hashed := hex.EncodeToString(mac.Sum(nil)[:16])

	for _, tc := range []struct {
		name string
		opts []baggagebridge.Option
		want map[string]string
	}{
		{"default copies all", nil, map[string]string{
			"user.id": "42", "user.email": "ada@example.com", "tenant": "acme", "session": "s3cr3t", "zone": "eu"}},
		{"keys", []baggagebridge.Option{baggagebridge.WithKeys("tenant", "zone", "absent")},
			map[string]string{"tenant": "acme", "zone": "eu"}},
		{"prefixes and keys", []baggagebridge.Option{baggagebridge.WithKeyPrefixes("user."), baggagebridge.WithKeys("zone")},
			map[string]string{"user.id": "42", "user.email": "ada@example.com", "zone": "eu"}},
		{"attribute prefix", []baggagebridge.Option{baggagebridge.WithKeys("tenant"), baggagebridge.WithAttributePrefix("baggage.")},
			map[string]string{"baggage.tenant": "acme"}},
		{"redacted and hashed", []baggagebridge.Option{
			baggagebridge.WithKeyPrefixes("user.", "session"),
			baggagebridge.WithRedacted("session", "user.id"),
			baggagebridge.WithHashed(secret, "user.email", "user.id"),
		}, map[string]string{"user.id": "REDACTED", "user.email": hashed, "session": "REDACTED"}},
		{"cap keeps lowest keys", []baggagebridge.Option{baggagebridge.WithMaxAttributes(2)},
			map[string]string{"session": "s3cr3t", "tenant": "acme"}},
		{"cap zero", []baggagebridge.Option{baggagebridge.WithMaxAttributes(0)}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, spanAttrs(t, ctx, tc.opts...))
		})
	}
}

func TestSpanProcessorOnlyPropagated(t *testing.T) {
	local := asynctrack.NewStore[string]()
	ctx := withValues(t, context.Background(), "a", "1")
	ctx = local.With(ctx, "local value")
	ctx, err := baggagebridge.Set(ctx, "huge", strings.Repeat("x", 9000))
	require.ErrorIs(t, err, baggagebridge.ErrTooLarge)
	assert.Equal(t, map[string]string{"a": "1"}, spanAttrs(t, ctx))
	assert.Empty(t, spanAttrs(t, context.Background()))
}

// TestSpanProcessorCache checks that spans under different baggages, many
// at once, each get their own values, also when baggages come and go faster
// than the cache holds them.
func TestSpanProcessorCache(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(baggagebridge.NewSpanProcessor()),
		sdktrace.WithSpanProcessor(rec),
	)
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("test")

	const workers, perWorker = 8, 300
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shared := withValues(t, context.Background(), "worker", fmt.Sprint(w), "n", "shared")
			for i := range perWorker {
				ctx := shared
				if i%2 == 0 { // a new baggage, with new content
					ctx = withValues(t, shared, "n", fmt.Sprint(i))
				}
				_, span := tracer.Start(ctx, fmt.Sprintf("%d/%d", w, i))
				span.End()
			}
		}()
	}
	wg.Wait()

	ended := rec.Ended()
	require.Len(t, ended, workers*perWorker)
	for _, s := range ended {
		var w, i int
		_, err := fmt.Sscanf(s.Name(), "%d/%d", &w, &i)
		require.NoError(t, err)
		n := "shared"
		if i%2 == 0 {
			n = fmt.Sprint(i)
		}
		require.Equal(t, map[string]string{"worker": fmt.Sprint(w), "n": n}, attrMap(s.Attributes()), s.Name())
	}
}

// countingSpan records what OnStart sets; the embedded interface is never
// called.
type countingSpan struct {
	sdktrace.ReadWriteSpan
	attrs []attribute.KeyValue
}

func (s *countingSpan) SetAttributes(kv ...attribute.KeyValue) { s.attrs = kv }

// TestSpanProcessorOnStartAllocs checks the cost OnStart adds to a span
// under a baggage it has seen: no allocation with a selection of keys, the
// listing of the members with every key selected; and that a changed value
// is never served from the cache.
func TestSpanProcessorOnStartAllocs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      sdktrace.SpanProcessor
		allocs float64
	}{
		{"keys", baggagebridge.NewSpanProcessor(baggagebridge.WithKeys("a", "b", "c", "d", "e")), 0},
		{"every key", baggagebridge.NewSpanProcessor(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled,
			}))
			ctx = withValues(t, ctx, "a", "1", "b", "2", "c", "3", "d", "4", "e", "5")
			span := &countingSpan{}
			tc.p.OnStart(ctx, span)
			require.Len(t, span.attrs, 5)
			allocs := testing.AllocsPerRun(100, func() { tc.p.OnStart(ctx, span) })
			assert.LessOrEqual(t, allocs, tc.allocs)
			assert.Len(t, span.attrs, 5)

			changed := withValues(t, ctx, "c", "33")
			tc.p.OnStart(changed, span)
			assert.Equal(t, "33", attrMap(span.attrs)["c"], "a changed value is not served from the cache")
			tc.p.OnStart(ctx, span)
			assert.Equal(t, "3", attrMap(span.attrs)["c"])
		})
	}
}

func TestWithMaxAttributesNegative(t *testing.T) {
	var reported []error
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { reported = append(reported, err) }))
	defer otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Print(err) }))

	ctx := withValues(t, context.Background(), "a", "1", "b", "2")
	got := spanAttrs(t, ctx, baggagebridge.WithMaxAttributes(1), baggagebridge.WithMaxAttributes(-1))
	assert.Equal(t, map[string]string{"a": "1"}, got, "the earlier valid cap holds")
	require.Len(t, reported, 2, "once for each of the processors spanAttrs builds")
	assert.ErrorContains(t, reported[0], "WithMaxAttributes(-1)")
}

// TestWrapSpanProcessorExported checks, through the SDK's batch processor
// and an exporter, that spans started at once under distinct baggages, and
// under none, are each exported with their own values or none, child spans
// under a changed baggage included, and that the values are not on the
// live span.
func TestWrapSpanProcessorExported(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(
		// Blocking: a full queue must not drop the spans this test counts.
		baggagebridge.WrapSpanProcessor(sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithBlocking()), baggagebridge.WithKeys("worker", "n", "child")),
	))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("test")

	const workers, perWorker = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				ctx := context.Background()
				if i%3 != 0 {
					ctx = withValues(t, ctx, "worker", fmt.Sprint(w), "n", fmt.Sprint(i))
				}
				ctx, parent := tracer.Start(ctx, fmt.Sprintf("%d/%d/parent", w, i))
				child := withValues(t, ctx, "child", "yes")
				_, span := tracer.Start(child, fmt.Sprintf("%d/%d/child", w, i))
				span.SetAttributes(attribute.String("n", "own"))
				if got := attrMap(span.(sdktrace.ReadOnlySpan).Attributes()); !assert.Equal(t, map[string]string{"n": "own"}, got) {
					return
				}
				span.End()
				parent.End()
			}
		}()
	}
	wg.Wait()
	require.NoError(t, tp.ForceFlush(context.Background()))

	spans := exp.GetSpans()
	require.Len(t, spans, 2*workers*perWorker)
	for _, s := range spans {
		var w, i int
		var kind string
		_, err := fmt.Sscanf(strings.ReplaceAll(s.Name, "/", " "), "%d %d %s", &w, &i, &kind)
		require.NoError(t, err)
		want := map[string]string{}
		if i%3 != 0 {
			want["worker"], want["n"] = fmt.Sprint(w), fmt.Sprint(i)
		}
		if kind == "child" {
			want["child"], want["n"] = "yes", "own" // the span's own attribute wins
		}
		require.Equal(t, want, attrMap(s.Attributes), s.Name)
	}
}

// TestWrapSpanProcessorConcurrentRead reads an exported span's attributes
// from several goroutines at once, as exporters fed by one processor may.
func TestWrapSpanProcessorConcurrentRead(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(baggagebridge.WrapSpanProcessor(rec)))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	_, span := tp.Tracer("test").Start(withValues(t, context.Background(), "a", "1", "b", "2"), "span")
	span.End()
	ended := rec.Ended()
	require.Len(t, ended, 1)
	var wg sync.WaitGroup
	got := make([]map[string]string, 8)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[g] = attrMap(ended[0].Attributes())
		}()
	}
	wg.Wait()
	for _, m := range got {
		assert.Equal(t, map[string]string{"a": "1", "b": "2"}, m)
	}
}

// sameIDs gives every span the same IDs, as no IDGenerator should.
type sameIDs struct{}

func (sameIDs) NewIDs(context.Context) (trace.TraceID, trace.SpanID) {
	return trace.TraceID{1}, trace.SpanID{1}
}

func (sameIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return trace.SpanID{1} }

// TestWrapSpanProcessorSameIDs checks that spans in flight with the same
// IDs never get one another's values, whichever ends first: they get none.
func TestWrapSpanProcessorSameIDs(t *testing.T) {
	for _, firstEnds := range []bool{true, false} {
		t.Run(fmt.Sprintf("first ends first %v", firstEnds), func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(
				sdktrace.WithIDGenerator(sameIDs{}),
				sdktrace.WithSpanProcessor(baggagebridge.WrapSpanProcessor(rec)),
			)
			defer func() { _ = tp.Shutdown(context.Background()) }()
			tracer := tp.Tracer("test")
			_, first := tracer.Start(withValues(t, context.Background(), "a", "1", "b", "1"), "first")
			_, second := tracer.Start(withValues(t, context.Background(), "a", "2"), "second")
			_, third := tracer.Start(context.Background(), "third")
			ends := []trace.Span{first, second, third}
			if !firstEnds {
				slices.Reverse(ends)
			}
			for _, s := range ends {
				s.End()
			}
			want := map[string]map[string]string{"first": {}, "second": {}, "third": {}}
			got := map[string]map[string]string{}
			for _, s := range rec.Ended() {
				got[s.Name()] = attrMap(s.Attributes())
			}
			assert.Equal(t, want, got)

			// With none in flight, the ID is free again.
			_, next := tracer.Start(withValues(t, context.Background(), "a", "3"), "next")
			next.End()
			ended := rec.Ended()
			assert.Equal(t, map[string]string{"a": "3"}, attrMap(ended[len(ended)-1].Attributes()))
		})
	}
}

// lifecycleProcessor counts the calls a wrapping processor passes on.
type lifecycleProcessor struct {
	starts, ends, flushes, shutdowns int
	err                              error
}

func (p *lifecycleProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) { p.starts++ }
func (p *lifecycleProcessor) OnEnd(sdktrace.ReadOnlySpan)                     { p.ends++ }
func (p *lifecycleProcessor) ForceFlush(context.Context) error {
	p.flushes++
	return p.err
}

func (p *lifecycleProcessor) Shutdown(context.Context) error {
	p.shutdowns++
	return p.err
}

func TestWrapSpanProcessorPassesOn(t *testing.T) {
	next := &lifecycleProcessor{err: errors.New("next failed")}
	p := baggagebridge.WrapSpanProcessor(next)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p))
	_, span := tp.Tracer("test").Start(context.Background(), "span")
	span.End()
	assert.ErrorIs(t, p.ForceFlush(context.Background()), next.err)
	assert.ErrorIs(t, tp.Shutdown(context.Background()), next.err)
	assert.Equal(t, lifecycleProcessor{starts: 1, ends: 1, flushes: 1, shutdowns: 1, err: next.err}, *next)
}

// TestWrapSpanProcessorManyInFlight starts 70,000 long-running spans, each
// under a value of its own, with the SDK's attribute count limit at 4. Spans
// at the limit, started while they are in flight and after they all ended,
// keep every attribute of their own and get their value at export only; the
// long-running spans are exported with their own value.
func TestWrapSpanProcessorManyInFlight(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanLimits(sdktrace.SpanLimits{AttributeCountLimit: 4, AttributeValueLengthLimit: -1,
			EventCountLimit: -1, LinkCountLimit: -1, AttributePerEventCountLimit: -1, AttributePerLinkCountLimit: -1}),
		sdktrace.WithSpanProcessor(baggagebridge.WrapSpanProcessor(rec, baggagebridge.WithKeys("n"))),
	)
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("test")

	own := map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}
	// atLimit starts and ends n spans with 4 attributes of their own, the
	// last set after start, checking that the live span has its own only.
	atLimit := func(name string, n int) {
		t.Helper()
		for i := range n {
			_, span := tracer.Start(withValues(t, context.Background(), "n", fmt.Sprint(i)), fmt.Sprintf("%s/%d", name, i),
				trace.WithAttributes(attribute.String("a", "1"), attribute.String("b", "2"), attribute.String("c", "3")))
			span.SetAttributes(attribute.String("d", "4"))
			require.Equal(t, own, attrMap(span.(sdktrace.ReadOnlySpan).Attributes()), "the live span has its own only")
			span.End()
		}
	}

	const long = 70_000
	spans := make([]trace.Span, long)
	for i := range spans {
		_, spans[i] = tracer.Start(withValues(t, context.Background(), "n", fmt.Sprint(i)), fmt.Sprintf("long/%d", i))
	}
	atLimit("during", 100)
	for _, s := range spans {
		s.End()
	}
	atLimit("after", 1000)

	ended := rec.Ended()
	require.Len(t, ended, long+1100)
	for _, s := range ended {
		kind, n, _ := strings.Cut(s.Name(), "/")
		want := map[string]string{"n": n}
		if kind != "long" {
			maps.Copy(want, own)
		}
		require.Equal(t, want, attrMap(s.Attributes()), s.Name())
		require.Zero(t, s.DroppedAttributes(), s.Name())
	}
}
