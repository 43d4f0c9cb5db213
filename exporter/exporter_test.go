// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
)

// attrs returns a span's attributes by key.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func eventNames(s sdktrace.ReadOnlySpan) []string {
	var names []string
	for _, e := range s.Events() {
		names = append(names, e.Name)
	}
	return names
}

// ended waits until the recorder holds n ended spans and returns them.
func (s *sdk) ended(t testing.TB, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	require.Eventually(t, func() bool { return len(s.spans.Ended()) >= n }, waitFor, time.Millisecond)
	return s.spans.Ended()
}

func TestSpans(t *testing.T) {
	s := newSDK(t)
	s.exporter(t, WithSpanTypes(asynctrack.TypeGoroutine, asynctrack.TypeTask, asynctrack.TypeTimer))

	ctx, root := s.tp.Tracer("test").Start(context.Background(), "request")
	req := asynctrack.NewResource(ctx, "http.request", nil)
	ids := make(map[string]uint64) // type -> ID
	var mu sync.Mutex
	record := func(typ string) func(context.Context) {
		return func(ctx context.Context) {
			mu.Lock()
			ids[typ] = asynctrack.ExecutionID(ctx)
			mu.Unlock()
		}
	}
	req.Run(func(ctx context.Context) {
		asynctrack.Go(ctx, record(asynctrack.TypeGoroutine))
		asynctrack.Bind(ctx, record(asynctrack.TypeTask))()
		asynctrack.AfterFunc(ctx, time.Millisecond, record(asynctrack.TypeTimer))
	})
	spans := s.ended(t, 3)
	req.Destroy()
	root.End()
	spans = s.ended(t, 4) // and the root
	require.Len(t, spans, 4, "http.request is not selected: no span for it")

	byType := make(map[string]sdktrace.ReadOnlySpan)
	for _, sp := range spans {
		byType[attrs(sp)[typeKey].AsString()] = sp
	}
	for _, typ := range []string{asynctrack.TypeGoroutine, asynctrack.TypeTask, asynctrack.TypeTimer} {
		t.Run(typ, func(t *testing.T) {
			sp := byType[typ]
			require.NotNil(t, sp)
			assert.Equal(t, typ+" exporter.TestSpans.func1.1", sp.Name(), "named after the type and the function it runs")
			assert.Equal(t, root.SpanContext().TraceID(), sp.SpanContext().TraceID())
			assert.Equal(t, root.SpanContext().SpanID(), sp.Parent().SpanID(), "parent is the span current at Init")
			assert.Equal(t, trace.SpanKindInternal, sp.SpanKind())
			assert.Equal(t, scopeName, sp.InstrumentationScope().Name)
			a := attrs(sp)
			mu.Lock()
			id := ids[typ]
			mu.Unlock()
			assert.Equal(t, attribute.Int64Value(int64(id)), a[idKey])
			assert.Equal(t, attribute.Int64Value(int64(req.ID())), a[triggerIDKey])
			assert.Equal(t, attribute.StringValue(typ), a[typeKey])
			assert.Equal(t, "exporter.TestSpans.func1.1", a[nameKey].AsString())
			assert.Regexp(t, "^[0-9a-f]{16}$", a[processKey].AsString(), "the process the IDs belong to")
			assert.NotContains(t, a, unfinishedKey)
			assert.Equal(t, []string{eventBefore, eventAfter}, eventNames(sp))
			ev := sp.Events()
			assert.False(t, ev[0].Time.Before(sp.StartTime()))
			assert.False(t, ev[1].Time.Before(ev[0].Time))
			assert.False(t, sp.EndTime().Before(ev[1].Time))
		})
	}
}

// A resource that runs many times gets an event pair per run.
func TestSpanEventsPerRun(t *testing.T) {
	s := newSDK(t)
	s.exporter(t, WithSpanTypes("job"))
	ctx, root := s.tp.Tracer("test").Start(context.Background(), "request")
	defer root.End()
	job := asynctrack.NewResource(ctx, "job", nil)
	for range 3 {
		job.Run(func(context.Context) {})
	}
	job.Destroy()
	spans := s.spans.Ended()
	require.Len(t, spans, 1, "Destroy ends the span on the calling goroutine")
	assert.Equal(t, []string{eventBefore, eventAfter, eventBefore, eventAfter, eventBefore, eventAfter}, eventNames(spans[0]))
}

func TestNoSpanTypesNoSpans(t *testing.T) {
	s := newSDK(t)
	s.exporter(t)
	ctx, root := s.tp.Tracer("test").Start(context.Background(), "request")
	job := asynctrack.NewResource(ctx, asynctrack.TypeGoroutine, nil)
	job.Run(func(context.Context) {})
	job.Destroy()
	root.End()
	spans := s.spans.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, "request", spans[0].Name())
}

func TestWithSpanTypesAdds(t *testing.T) {
	s := newSDK(t)
	s.exporter(t, WithSpanTypes("a"), WithSpanTypes("b", "c"))
	ctx, root := s.tp.Tracer("test").Start(context.Background(), "request")
	defer root.End()
	for _, typ := range []string{"a", "b", "c", "d"} {
		asynctrack.NewResource(ctx, typ, nil).Destroy()
	}
	var names []string
	for _, sp := range s.spans.Ended() {
		names = append(names, sp.Name())
	}
	assert.Equal(t, []string{"a", "b", "c"}, names)
}

// Spans are started only inside sampled traces, even by a TracerProvider
// whose sampler would record them.
func TestUnsampledTraceNoSpans(t *testing.T) {
	s := newSDK(t) // AlwaysSample
	s.exporter(t, WithSpanTypes("job"))
	remote := func(flags trace.TraceFlags) context.Context {
		return trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID{1},
			SpanID:     trace.SpanID{2},
			TraceFlags: flags,
			Remote:     true,
		}))
	}
	never := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	defer func() { require.NoError(t, never.Shutdown(context.Background())) }()
	local, unsampled := never.Tracer("test").Start(context.Background(), "unsampled")
	require.False(t, unsampled.SpanContext().IsSampled())
	defer unsampled.End()

	asynctrack.NewResource(remote(0), "job", nil).Destroy()
	asynctrack.NewResource(local, "job", nil).Destroy()
	asynctrack.NewResource(context.Background(), "job", nil).Destroy() // no trace at all
	assert.Empty(t, s.spans.Started())

	asynctrack.NewResource(remote(trace.FlagsSampled), "job", nil).Destroy()
	spans := s.spans.Ended()
	require.Len(t, spans, 1, "a sampled remote parent is inside a sampled trace")
	assert.Equal(t, trace.TraceID{1}, spans[0].SpanContext().TraceID())
	assert.Equal(t, trace.SpanID{2}, spans[0].Parent().SpanID())
}

func TestMaxSpansPerTrace(t *testing.T) {
	s := newSDK(t)
	s.exporter(t, WithSpanTypes("job"), WithMaxSpansPerTrace(3))
	tracer := s.tp.Tracer("test")
	a, rootA := tracer.Start(context.Background(), "a")
	b, rootB := tracer.Start(context.Background(), "b")
	for range 5 {
		asynctrack.NewResource(a, "job", nil).Destroy()
	}
	for range 2 {
		asynctrack.NewResource(b, "job", nil).Destroy()
	}
	rootA.End()
	rootB.End()

	perTrace := make(map[trace.TraceID]int)
	for _, sp := range s.spans.Ended() {
		if sp.Name() == "job" {
			perTrace[sp.SpanContext().TraceID()]++
		}
	}
	assert.Equal(t, map[trace.TraceID]int{rootA.SpanContext().TraceID(): 3, rootB.SpanContext().TraceID(): 2}, perTrace)
	data := collect(t, s.reader)
	dropped, ok := sum(data, metricDropped, typeKey.String("job"))
	require.True(t, ok)
	assert.EqualValues(t, 2, dropped)
	created, _ := sum(data, metricCreated, typeKey.String("job"))
	assert.EqualValues(t, 7, created, "dropped spans still count as resources")
}

func TestMaxSpansPerTraceDefault(t *testing.T) {
	for name, opts := range map[string][]Option{
		"unset": nil,
		"zero":  {WithMaxSpansPerTrace(0)},
		"minus": {WithMaxSpansPerTrace(-1)},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSDK(t)
			s.exporter(t, append(opts, WithSpanTypes("job"))...)
			ctx, root := s.tp.Tracer("test").Start(context.Background(), "request")
			for range defaultMaxSpansPerTrace + 1 {
				asynctrack.NewResource(ctx, "job", nil).Destroy()
			}
			root.End()
			assert.Len(t, s.spans.Ended(), defaultMaxSpansPerTrace+1, "1000 jobs and the root")
			dropped, _ := sum(collect(t, s.reader), metricDropped, typeKey.String("job"))
			assert.EqualValues(t, 1, dropped)
		})
	}
}

// The budget forgets a trace only after many other traces; until then an
// exhausted trace stays exhausted.
func TestBudgetGenerations(t *testing.T) {
	b := newBudget(1)
	id := func(n int) trace.TraceID {
		var tid trace.TraceID
		tid[0], tid[1] = byte(n), byte(n>>8) // same shard for all
		return tid
	}
	require.True(t, b.take(id(0)))
	require.False(t, b.take(id(0)))
	for n := 1; n < budgetTraces; n++ {
		require.True(t, b.take(id(n)))
	}
	require.False(t, b.take(id(0)), "still in the current generation")
	for n := budgetTraces; n < 2*budgetTraces-1; n++ {
		require.True(t, b.take(id(n)))
	}
	require.False(t, b.take(id(0)), "found in the previous generation and carried over")
	for n := 2 * budgetTraces; n < 4*budgetTraces; n++ {
		require.True(t, b.take(id(n)))
	}
	assert.True(t, b.take(id(0)), "forgotten after two generations of other traces")
	sh := &b.shards[0]
	assert.LessOrEqual(t, len(sh.cur)+len(sh.prev), 2*budgetTraces, "bounded memory")
}

// Without provider options, or with nil ones, the global providers are used.
func TestGlobalProviders(t *testing.T) {
	prevTP, prevMP := otel.GetTracerProvider(), otel.GetMeterProvider()
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetMeterProvider(prevMP)
	})
	for name, opts := range map[string][]Option{
		"unset": nil,
		"nil":   {WithTracerProvider(nil), WithMeterProvider(nil)},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSDK(t)
			otel.SetTracerProvider(s.tp)
			otel.SetMeterProvider(s.mp)
			e := NewInstrumentation(append(opts, WithSpanTypes("job"))...)
			ctx, root := s.tp.Tracer("test").Start(context.Background(), "request")
			asynctrack.NewResource(ctx, "job", nil).Destroy()
			root.End()
			require.NoError(t, e.Shutdown(context.Background()))
			assert.Len(t, s.spans.Ended(), 2)
			// Unregistered at Shutdown: only the histogram remains.
			_, ok := histogram(collect(t, s.reader), typeKey.String("job"))
			assert.True(t, ok)
		})
	}
}

func TestShutdown(t *testing.T) {
	s := newSDK(t)
	e := NewInstrumentation(WithTracerProvider(s.tp), WithMeterProvider(s.mp), WithSpanTypes(asynctrack.TypeGoroutine))
	ctx, root := s.tp.Tracer("test").Start(context.Background(), "request")
	defer root.End()

	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	asynctrack.Go(ctx, func(context.Context) {
		defer wg.Done()
		<-release
	})
	require.Len(t, s.spans.Started(), 2, "Init starts the span on the creating goroutine")
	require.Empty(t, s.spans.Ended())
	_, ok := sum(collect(t, s.reader), metricLive, typeKey.String(asynctrack.TypeGoroutine))
	require.True(t, ok, "metrics are observed before Shutdown")

	require.NoError(t, e.Shutdown(context.Background()))
	spans := s.spans.Ended()
	require.Len(t, spans, 1, "the live resource's span is ended, not lost")
	assert.Equal(t, attribute.BoolValue(true), attrs(spans[0])[unfinishedKey])
	assert.Equal(t, int64(0), e.spanned.Load())

	_, ok = sum(collect(t, s.reader), metricLive, typeKey.String(asynctrack.TypeGoroutine))
	assert.False(t, ok, "the callback is unregistered")

	// Nothing is listening any more: the goroutine's Destroy and new work
	// leave no trace.
	close(release)
	wg.Wait()
	asynctrack.NewResource(ctx, asynctrack.TypeGoroutine, nil).Destroy()
	assert.Len(t, s.spans.Ended(), 1)
	assert.False(t, e.registry.Enabled())
	assert.Zero(t, e.registry.Len())

	assert.NoError(t, e.Shutdown(context.Background()), "later calls return nil")
}

func TestShutdownHonoursContext(t *testing.T) {
	s := newSDK(t)
	e := NewInstrumentation(WithTracerProvider(s.tp), WithMeterProvider(s.mp), WithSpanTypes("job"))
	ctx, root := s.tp.Tracer("test").Start(context.Background(), "request")
	defer root.End()
	job := asynctrack.NewResource(ctx, "job", nil)

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	err := e.Shutdown(canceled)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, s.spans.Ended(), "ending spans stopped at the canceled context")
	assert.False(t, e.registry.Enabled(), "listening stops anyway")
	assert.Equal(t, int64(0), e.spanned.Load())
	job.Destroy()
	assert.Empty(t, s.spans.Ended())
}

// Resources created and destroyed on many goroutines while Shutdown runs: every
// span started is ended and counted out once, and nothing panics or races.
func TestShutdownWhileBusy(t *testing.T) {
	s := newSDK(t)
	e := NewInstrumentation(WithTracerProvider(s.tp), WithMeterProvider(s.mp), WithSpanTypes(asynctrack.TypeGoroutine), WithMaxSpansPerTrace(1<<20))
	ctx, root := s.tp.Tracer("test").Start(context.Background(), "request")
	defer root.End()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inner sync.WaitGroup
			defer inner.Wait()
			for {
				select {
				case <-stop:
					return
				default:
				}
				inner.Add(1)
				asynctrack.Go(ctx, func(context.Context) { inner.Done() })
			}
		}()
	}
	require.Eventually(t, func() bool { return len(s.spans.Ended()) > 100 }, waitFor, time.Millisecond)
	require.NoError(t, e.Shutdown(context.Background()))
	close(stop)
	wg.Wait()

	// A Destroy that passed the hook's enabled check before Shutdown may
	// still be ending its span: wait for it.
	require.Eventually(t, func() bool {
		return len(s.spans.Ended()) == len(s.spans.Started())-1 // all but the root
	}, waitFor, time.Millisecond, "every span started is ended")
	require.Eventually(t, func() bool { return e.spanned.Load() == 0 }, waitFor, time.Millisecond,
		"each span is counted out once")
}

// TestUserSpansNestUnderAsyncSpans: a span started inside a goroutine,
// task, timer or user resource that has an async span is that span's child,
// from the callback's ctx and from the ambient one, so the span tree is the
// trigger tree.
func TestUserSpansNestUnderAsyncSpans(t *testing.T) {
	s := newSDK(t)
	s.exporter(t, WithSpanTypes(asynctrack.TypeGoroutine, asynctrack.TypeTask, asynctrack.TypeTimer, "job"))
	tracer := s.tp.Tracer("user")
	ctx, root := tracer.Start(context.Background(), "request")

	type started struct{ asyncID, viaCtx, viaAmbient string }
	var mu sync.Mutex
	got := map[string]started{}
	work := func(name string) func(context.Context) {
		return func(ctx context.Context) {
			_, a := tracer.Start(ctx, name+"/ctx")
			a.End()
			_, b := tracer.Start(asynctrack.Ambient(), name+"/ambient")
			b.End()
			mu.Lock()
			got[name] = started{fmt.Sprint(asynctrack.ExecutionID(ctx)), a.SpanContext().SpanID().String(), b.SpanContext().SpanID().String()}
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	wg.Add(3)
	asynctrack.Go(ctx, func(ctx context.Context) {
		defer wg.Done()
		work(asynctrack.TypeGoroutine)(ctx)
		asynctrack.Go(ctx, func(ctx context.Context) { defer wg.Done(); work("nested")(ctx) })
	})
	asynctrack.Bind(ctx, work(asynctrack.TypeTask))()
	asynctrack.AfterFunc(ctx, time.Millisecond, func(ctx context.Context) { defer wg.Done(); work(asynctrack.TypeTimer)(ctx) })
	job := asynctrack.NewResource(ctx, "job", nil)
	job.Run(work("job"))
	job.Destroy()
	wg.Wait()
	root.End()
	spans := s.ended(t, 1+5*3)

	byID := map[string]sdktrace.ReadOnlySpan{}
	asyncByExec := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range spans {
		byID[sp.SpanContext().SpanID().String()] = sp
		if v, ok := attrs(sp)[idKey]; ok {
			asyncByExec[fmt.Sprint(v.AsInt64())] = sp
		}
	}
	for _, name := range []string{asynctrack.TypeGoroutine, "nested", asynctrack.TypeTask, asynctrack.TypeTimer, "job"} {
		t.Run(name, func(t *testing.T) {
			mu.Lock()
			g := got[name]
			mu.Unlock()
			async := asyncByExec[g.asyncID]
			require.NotNil(t, async, "the resource's async span")
			ids := []string{g.viaCtx}
			if ambientBuild() {
				ids = append(ids, g.viaAmbient)
			}
			for _, id := range ids {
				sp := byID[id]
				require.NotNil(t, sp)
				assert.Equal(t, async.SpanContext().SpanID(), sp.Parent().SpanID(), "%s is the async span's child", sp.Name())
			}
			// The async span's parent is the span current where the
			// resource was created: the trigger's async span, or the root.
			trigger := attrs(async)[triggerIDKey].AsInt64()
			if parent, ok := asyncByExec[fmt.Sprint(trigger)]; ok {
				assert.Equal(t, parent.SpanContext().SpanID(), async.Parent().SpanID(), "span tree = trigger tree")
			} else {
				assert.Equal(t, root.SpanContext().SpanID(), async.Parent().SpanID())
			}
		})
	}
}

// TestNestingWithPanickingHookAndToggling: a hook that panics in every
// callback, enabled before the Instrumentation, and hooks enabled and disabled
// while work runs leave the span tree and the trigger tree consistent.
func TestNestingWithPanickingHookAndToggling(t *testing.T) {
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	bad := asynctrack.NewHook(asynctrack.HookFuncs{
		Init:    func(context.Context, uint64, string, uint64, any) { panic("init") },
		Context: func(context.Context, uint64) context.Context { panic("context") },
		Before:  func(uint64) { panic("before") },
	}).Enable()
	defer bad.Disable()
	s := newSDK(t)
	s.exporter(t, WithSpanTypes(asynctrack.TypeGoroutine), WithMaxSpansPerTrace(1<<20))
	tracer := s.tp.Tracer("user")
	ctx, root := tracer.Start(context.Background(), "request")

	stop := make(chan struct{})
	var toggler sync.WaitGroup
	toggler.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				asynctrack.NewHook(asynctrack.HookFuncs{Before: func(uint64) {}}).Enable().Disable()
			}
		}
	})
	const n = 200
	var wg sync.WaitGroup
	wg.Add(n)
	for range n {
		asynctrack.Go(ctx, func(ctx context.Context) {
			defer wg.Done()
			_, sp := tracer.Start(ctx, "inside")
			sp.End()
		})
	}
	wg.Wait()
	close(stop)
	toggler.Wait()
	root.End()
	spans := s.ended(t, 1+2*n)
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, sp := range spans {
		byID[sp.SpanContext().SpanID()] = sp
	}
	inside := 0
	for _, sp := range spans {
		if sp.Name() != "inside" {
			continue
		}
		inside++
		parent := byID[sp.Parent().SpanID()]
		require.NotNil(t, parent)
		assert.Equal(t, asynctrack.TypeGoroutine, attrs(parent)[typeKey].AsString(), "each user span under its goroutine's span")
		assert.Equal(t, root.SpanContext().SpanID(), parent.Parent().SpanID())
	}
	assert.Equal(t, n, inside)
}

// ambientBuild reports whether code without a ctx sees its scope (not so
// with the otelctx_nolinkname tag).
func ambientBuild() bool {
	s := asynctrack.NewStore[bool]()
	ok := false
	s.Run(context.Background(), true, func(context.Context) { ok, _ = s.Current() })
	return ok
}
