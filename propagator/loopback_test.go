// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

type recorded struct {
	mu      sync.Mutex
	headers []http.Header
	bags    []baggage.Baggage
}

func (r *recorded) add(h http.Header, b baggage.Baggage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headers = append(r.headers, h.Clone())
	r.bags = append(r.bags, b)
}

func (r *recorded) get() ([]http.Header, []baggage.Baggage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.headers, r.bags
}

// TestLoopbackPublicEdge runs three services on 127.0.0.1: a public edge, an
// internal service it trusts, and a third-party host. A caller on the
// internet sends the edge forged baggage. The edge keeps only the allowlisted
// key, adds what it vouches for and calls both other services; the internal
// service calls the third party too. The third party must receive no
// baggage, yet the trace context and every span.
func TestLoopbackPublicEdge(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	newClient := func(p propagation.TextMapPropagator) *http.Client {
		otelTransport := func(rt http.RoundTripper) http.RoundTripper {
			return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(p))
		}
		return &http.Client{Transport: otelTransport(NewTransport(base, p))}
	}
	get := func(ctx context.Context, c *http.Client, url string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if !assert.NoError(t, err) {
			return
		}
		res, err := c.Do(req)
		if !assert.NoError(t, err) {
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		assert.NoError(t, res.Body.Close())
		assert.Equal(t, http.StatusOK, res.StatusCode)
	}

	var third, internal, edge recorded
	thirdSrv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		third.add(r.Header, baggage.Baggage{})
	}))
	defer thirdSrv.Close()

	// The internal service trusts its callers and, by default, sends no
	// baggage onwards.
	internalProp := New()
	internalClient := newClient(internalProp)
	internalSrv := httptest.NewServer(otelhttp.NewHandler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		internal.add(r.Header, baggage.FromContext(r.Context()))
		get(r.Context(), internalClient, thirdSrv.URL)
	}), "internal", otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(internalProp)))
	defer internalSrv.Close()

	// The edge accepts one key from the internet and sends baggage only to
	// the internal service.
	edgeProp := New(
		WithPublicEndpoint(),
		WithPublicAllow("request.id"),
		WithEgress(EgressRule{Hosts: []string{internalSrv.Listener.Addr().String()}, Prefixes: []string{""}}),
	)
	edgeClient := newClient(edgeProp)
	edgeSrv := httptest.NewServer(otelhttp.NewHandler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		edge.add(r.Header, baggage.FromContext(ctx))
		// What the edge vouches for after authenticating the caller.
		m, err := baggage.NewMemberRaw("tenant.id", "acme")
		require.NoError(t, err)
		b, err := baggage.FromContext(ctx).SetMember(m)
		require.NoError(t, err)
		ctx = baggage.ContextWithBaggage(ctx, b)
		get(ctx, edgeClient, internalSrv.URL)
		get(ctx, edgeClient, thirdSrv.URL)
	}), "edge",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(edgeProp),
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }),
	))
	defer edgeSrv.Close()

	// The caller on the internet.
	const forgedTrace = "0af7651916cd43dd8448eb211c80319c"
	req, err := http.NewRequest(http.MethodGet, edgeSrv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("traceparent", "00-"+forgedTrace+"-b7ad6b7169203331-01")
	req.Header.Set("baggage", "tenant.id=forged,user.role=admin,request.id=r-1")
	res, err := (&http.Client{Transport: base}).Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode)

	// Baggage.
	_, edgeBags := edge.get()
	require.Len(t, edgeBags, 1)
	assert.Equal(t, map[string]member{"request.id": {"r-1", nil}}, baggageOf(t, edgeBags[0]))
	internalHeaders, internalBags := internal.get()
	require.Len(t, internalBags, 1)
	assert.Equal(t, map[string]member{"request.id": {"r-1", nil}, "tenant.id": {"acme", nil}}, baggageOf(t, internalBags[0]))
	assert.Equal(t, []string{"request.id=r-1,tenant.id=acme"}, internalHeaders[0].Values("baggage"))
	thirdHeaders, _ := third.get()
	require.Len(t, thirdHeaders, 2, "from the edge and from the internal service")
	for _, h := range thirdHeaders {
		assert.Empty(t, h.Values("baggage"), "the third party receives no baggage")
		assert.NotContains(t, strings.ToLower(strings.Join(h.Values("traceparent"), "")), forgedTrace)
	}

	// Spans: the edge starts a new trace linked to the forged one; every
	// call, also to the third party, is recorded in it and announced to the
	// next hop.
	ended := spans.Ended()
	var server, client []sdktrace.ReadOnlySpan
	for _, s := range ended {
		switch s.SpanKind() {
		case trace.SpanKindServer:
			server = append(server, s)
		case trace.SpanKindClient:
			client = append(client, s)
		}
	}
	require.Len(t, server, 2)
	require.Len(t, client, 3)
	edgeSpan := server[0]
	if edgeSpan.Name() != "edge" {
		edgeSpan = server[1]
	}
	traceID := edgeSpan.SpanContext().TraceID()
	assert.NotEqual(t, forgedTrace, traceID.String(), "a public endpoint starts a new trace")
	assert.False(t, edgeSpan.Parent().IsValid())
	require.Len(t, edgeSpan.Links(), 1)
	assert.Equal(t, forgedTrace, edgeSpan.Links()[0].SpanContext.TraceID().String())
	for _, s := range append(server, client...) {
		assert.Equal(t, traceID, s.SpanContext().TraceID(), s.Name())
	}
	clientIDs := map[string]bool{}
	for _, s := range client {
		clientIDs[s.SpanContext().SpanID().String()] = true
	}
	for _, h := range append(thirdHeaders, internalHeaders...) {
		sc := trace.SpanContextFromContext(New().Extract(context.Background(), propagation.HeaderCarrier(h)))
		require.True(t, sc.IsValid(), "the trace context flows: %v", h)
		assert.Equal(t, traceID, sc.TraceID())
		assert.True(t, clientIDs[sc.SpanID().String()], "the parent is a recorded client span")
	}
}
