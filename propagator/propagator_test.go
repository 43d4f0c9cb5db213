// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// otel delegates its default error handler only once, so route it once
	// to a sink tests can swap.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		if sink := errSink.Load(); sink != nil {
			(*sink)(err)
		}
	}))
	goleak.VerifyTestMain(m)
}

var errSink atomic.Pointer[func(error)]

// captureErrors records what is reported through otel.Handle until the test
// ends. Tests using it must not run in parallel.
func captureErrors(t *testing.T) func() []error {
	var mu sync.Mutex
	var errs []error
	sink := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	errSink.Store(&sink)
	t.Cleanup(func() { errSink.Store(nil) })
	return func() []error {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(errs)
	}
}

// headers builds an http.Header from name/value pairs, keeping repeated names
// as separate field lines.
func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func extract(p propagation.TextMapPropagator, kv ...string) context.Context {
	return p.Extract(context.Background(), propagation.HeaderCarrier(headers(kv...)))
}

func inject(p propagation.TextMapPropagator, ctx context.Context) http.Header {
	h := http.Header{}
	p.Inject(ctx, propagation.HeaderCarrier(h))
	return h
}

// injectTo returns the headers of an HTTP request to host: the trace
// context Inject writes, and the baggage NewTransport writes for host with
// p's rules.
func injectTo(p propagation.TextMapPropagator, ctx context.Context, host string) http.Header {
	h := inject(p, ctx)
	pp, _ := ours(p)
	pp.injectBaggage(ctx, propagation.HeaderCarrier(h), host)
	return h
}

// allEgress sends every baggage key to every destination.
var allEgress = WithEgress(EgressRule{Hosts: []string{"*"}, Prefixes: []string{""}})

func TestFields(t *testing.T) {
	assert.ElementsMatch(t, []string{"traceparent", "tracestate", "baggage"}, New().Fields())
}

func TestRoundTripStockCompatible(t *testing.T) {
	// What this propagator injects, the stock propagators extract the same,
	// and the other way round.
	stock := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	p := New(allEgress)

	ctx := extract(stock,
		"traceparent", benchTraceparent,
		"tracestate", benchTracestate,
		"baggage", benchBaggage)
	ours := inject(p, ctx)
	theirs := inject(stock, ctx)
	assert.Equal(t, theirs.Get("traceparent"), ours.Get("traceparent"))
	assert.Equal(t, theirs.Get("tracestate"), ours.Get("tracestate"))

	back := stock.Extract(context.Background(), propagation.HeaderCarrier(ours))
	assert.Equal(t, trace.SpanContextFromContext(ctx), trace.SpanContextFromContext(back))
	assertSameBaggage(t, baggage.FromContext(ctx), baggage.FromContext(back))

	ctx2 := p.Extract(context.Background(), propagation.HeaderCarrier(theirs))
	assert.Equal(t, trace.SpanContextFromContext(ctx), trace.SpanContextFromContext(ctx2))
	assertSameBaggage(t, baggage.FromContext(ctx), baggage.FromContext(ctx2))
}

func assertSameBaggage(t *testing.T, want, got baggage.Baggage) {
	t.Helper()
	require.Equal(t, want.Len(), got.Len(), "got %s, want %s", got, want)
	for _, m := range want.Members() {
		g := got.Member(m.Key())
		assert.Equal(t, m.Value(), g.Value(), m.Key())
		assert.Equal(t, m.Properties(), g.Properties(), m.Key())
	}
}

func propagationHeader(kv ...string) propagation.HeaderCarrier {
	return propagation.HeaderCarrier(headers(kv...))
}

// TestInjectAllocations: Inject onto an http.Header allocates one string
// for the trace context and the baggage, and one array for the three
// header values, when the rules name the keys (a prefix rule lists the
// baggage's members: one more).
func TestInjectAllocations(t *testing.T) {
	p := New(WithEgress(EgressRule{Hosts: []string{"*"}, Keys: []string{"k", "user.id"}}))
	ctx := extract(p, "traceparent", suiteTraceparent, "tracestate", "a=1", "baggage", "k=v,user.id=42")
	h := http.Header{}
	p.Inject(ctx, propagation.HeaderCarrier(h))
	require.Equal(t, "k=v,user.id=42", h.Get("baggage"))
	require.Equal(t, "a=1", h.Get("tracestate"))
	allocs := testing.AllocsPerRun(100, func() { p.Inject(ctx, propagation.HeaderCarrier(h)) })
	assert.LessOrEqual(t, allocs, 2.0)
}
