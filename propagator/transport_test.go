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
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/internal/envcheck"
)

// roundTripFunc records the requests a transport passes on.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportRecordsDestination(t *testing.T) {
	var got *http.Request
	rt := NewTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: r}, nil
	}))
	r, err := http.NewRequest(http.MethodGet, "http://api.example:8080/x", nil)
	require.NoError(t, err)
	res, err := rt.RoundTrip(r)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())

	dest, ok := destinationFromContext(got.Context())
	assert.True(t, ok)
	assert.Equal(t, destination{host: "api.example:8080", viaTransport: true}, dest)
	_, ok = destinationFromContext(r.Context())
	assert.False(t, ok, "the caller's request is not modified")
}

func TestTransportReinjectsWhenInside(t *testing.T) {
	// Inside otelhttp.NewTransport the headers are already set, for an
	// unknown destination: the transport injects again, on a copy, knowing it.
	p := New(WithEgress(
		EgressRule{Hosts: []string{"*"}, Keys: []string{"k"}},
		EgressRule{Hosts: []string{"internal.example"}, Prefixes: []string{""}},
	))
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(p)
	defer otel.SetTextMapPropagator(prev)

	ctx := extract(p, "traceparent", suiteTraceparent, "baggage", "k=v,j=w")
	var got http.Header
	rt := NewTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.Header
		return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: r}, nil
	}))
	for dest, want := range map[string]string{
		"internal.example": "j=w,k=v",
		"elsewhere":        "k=v",
	} {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+dest+"/", nil)
		require.NoError(t, err)
		p.Inject(ctx, propagation.HeaderCarrier(r.Header))
		require.Equal(t, "k=v", r.Header.Get("baggage"))
		_, err = rt.RoundTrip(r)
		require.NoError(t, err)
		assert.Equal(t, []string{want}, got.Values("baggage"), dest)
		assert.Equal(t, suiteTraceparent, got.Get("traceparent"), dest)
		assert.Equal(t, []string{"k=v"}, r.Header.Values("baggage"), "the caller's headers are not modified")
	}
}

func TestTransportNilBase(t *testing.T) {
	assert.Equal(t, http.DefaultTransport, NewTransport(nil).(*transport).base.(detached).base)
}

func TestContextWithDestination(t *testing.T) {
	p := New(WithEgress(EgressRule{Hosts: []string{"broker:9092"}, Keys: []string{"k"}}))
	ctx := baggage.ContextWithBaggage(context.Background(), mustBaggage(t, "k=v,j=w"))
	for name, injectTo := range map[string]func(ctx context.Context) string{
		"other carrier": func(ctx context.Context) string {
			c := propagation.MapCarrier{}
			p.Inject(ctx, c)
			return c.Get("baggage")
		},
		"HTTP, checked redirects": func(ctx context.Context) string {
			return inject(p, ContextWithCheckedRedirects(ctx)).Get("baggage")
		},
	} {
		assert.Equal(t, "k=v", injectTo(ContextWithDestination(ctx, "broker:9092")), name)
		assert.Empty(t, injectTo(ContextWithDestination(ctx, "")), "%s: an empty destination is unknown", name)
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
	client := &http.Client{Transport: NewTransport(srv.Client().Transport)}
	defer client.CloseIdleConnections()
	for range 2 {
		resp, err := client.Get(srv.URL)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	reports := errs()
	require.Len(t, reports, 1)
	assert.ErrorContains(t, reports[0], "OTELCTX_EGRESS is set, but no otelctx propagator reads them")
}
