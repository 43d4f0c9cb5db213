// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/internal/envcheck"
)

// roundTripFunc records the requests a transport passes on.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportNilBase(t *testing.T) {
	tr := NewTransport(nil, nil).(*transport)
	assert.Equal(t, http.DefaultTransport, tr.base.(detached).base)
	assert.True(t, tr.wire)
}

// TestTransportUnverifiedBase: a base that is not an *http.Transport may
// send the request anywhere, so it sees only what every destination is
// granted, in the headers and in the ctx, whoever injects inside it.
func TestTransportUnverifiedBase(t *testing.T) {
	captureErrors(t)
	p := New(
		WithEgress(EgressRule{Hosts: []string{"*"}, Keys: []string{"k"}}),
		WithEgress(EgressRule{Hosts: []string{"internal.example"}, Prefixes: []string{""}}),
	)
	setGlobal(t, p)
	ctx := extract(p, "traceparent", suiteTraceparent, "baggage", "k=v,j=w")
	var got *http.Request
	rt := NewTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: r}, nil
	}), nil)
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://internal.example/", nil)
	require.NoError(t, err)
	r.Header.Set("Baggage", "k=v,j=w")
	r.Header.Set("traceparent", suiteTraceparent)
	_, err = rt.RoundTrip(r)
	require.NoError(t, err)
	assert.Equal(t, []string{"k=v"}, got.Header.Values("baggage"))
	assert.Equal(t, "k=v", baggage.FromContext(got.Context()).String(), "what base injects")
	assert.Equal(t, suiteTraceparent, got.Header.Get("traceparent"), "the trace context is left as it is")
	assert.Equal(t, []string{"k=v,j=w"}, r.Header.Values("baggage"), "the caller's request is not modified")
}

// TestInjectBaggage: the rules are found in the global propagator, alone or
// in a composite; without them nothing is sent, and the error says so.
func TestInjectBaggage(t *testing.T) {
	p := New(WithEgress(EgressRule{Hosts: []string{"broker:9092"}, Keys: []string{"k"}}))
	ctx := baggage.ContextWithBaggage(context.Background(), mustBaggage(t, "k=v,j=w"))
	stock := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	for name, global := range map[string]propagation.TextMapPropagator{
		"alone":        p,
		"in composite": propagation.NewCompositeTextMapPropagator(stock, p),
	} {
		setGlobal(t, global)
		for dest, want := range map[string]string{"broker:9092": "k=v", "broker:9093": "", "": ""} {
			m := propagation.MapCarrier{"Baggage": "j=w", "baggage": "k=v,j=w"}
			require.NoError(t, InjectBaggage(ctx, nil, m, dest))
			assert.Equal(t, want, m.Get("baggage"), "%s: %q", name, dest)
			assert.NotContains(t, m, "Baggage", name)
		}
	}
	setGlobal(t, stock)
	h := propagation.HeaderCarrier{}
	stock.Inject(ctx, h)
	require.ErrorIs(t, InjectBaggage(ctx, nil, h, "broker:9092"), errNoPolicy)
	assert.Empty(t, h.Values("baggage"), "no rules: no baggage")
}

// BenchmarkTransport measures what NewTransport adds to a request with a
// baggage of three members, one granted to its host, over an
// *http.Transport that answers without a network (RegisterProtocol).
func BenchmarkTransport(b *testing.B) {
	p := New(WithEgress(EgressRule{Hosts: []string{"api.internal"}, Keys: []string{"user.id"}}))
	base := &http.Transport{}
	ok := &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody}
	base.RegisterProtocol("bench", roundTripFunc(func(*http.Request) (*http.Response, error) { return ok, nil }))
	bag, err := baggage.Parse("request.id=r1,tenant.id=t1,user.id=u1")
	require.NoError(b, err)
	r, err := http.NewRequestWithContext(baggage.ContextWithBaggage(context.Background(), bag), http.MethodGet, "bench://api.internal/", nil)
	require.NoError(b, err)
	for _, bc := range []struct {
		name string
		rt   http.RoundTripper
	}{{"http.Transport", base}, {"NewTransport", NewTransport(base, p)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.rt.RoundTrip(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTransportReportsUnreadEnv: OTELCTX_* variables that no propagator
// reads are reported after the first request NewTransport sends.
func TestTransportReportsUnreadEnv(t *testing.T) {
	errs := captureErrors(t)
	envcheck.Reset(func() []string {
		return []string{"OTELCTX_EGRESS=*.internal=user.id", "OTEL_PROPAGATORS=tracecontext,baggage"}
	})
	t.Cleanup(func() { envcheck.Reset(nil) })
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	client := &http.Client{Transport: NewTransport(srv.Client().Transport, nil)}
	defer client.CloseIdleConnections()
	for range 2 {
		resp, err := client.Get(srv.URL)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	reports := errs()
	require.Len(t, reports, 1)
	assert.ErrorContains(t, reports[0], "OTELCTX_EGRESS is set, but no otelctx propagator reads it")
	assert.ErrorContains(t, reports[0], "OTEL_PROPAGATORS=\"tracecontext,baggage\" does not name otelctx")

	// An otelctx propagator built in code without WithEnv: the report says
	// so, and how to fix it.
	envcheck.Reset(func() []string { return []string{"OTELCTX_DEBUG_DROPS=true"} })
	client = &http.Client{Transport: NewTransport(srv.Client().Transport, New(WithEgress(EgressRule{Hosts: []string{"*"}, Keys: []string{"k"}})))}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	reports = errs()
	require.Len(t, reports, 2)
	assert.ErrorContains(t, reports[1], "OTELCTX_DEBUG_DROPS is set, but no otelctx propagator reads it")
	assert.ErrorContains(t, reports[1], "built in code without propagator.WithEnv()")
}
