// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package ambientotel_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/propagator"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type seen struct{ traceparent, baggage string }

// TestOutboundWithoutCtx: with the opt-in, a request made with no ctx
// (client.Get, as http.Get is) inside a request's work carries that
// request's trace context and exactly the baggage the egress rules grant
// its host, through NewTransport alone or under otelhttp; outside every
// request, nothing; never another request's.
func TestOutboundWithoutCtx(t *testing.T) {
	ambient := false
	s := asynctrack.NewStore[bool]()
	s.Run(context.Background(), true, func(context.Context) { _, ambient = s.Current() })
	if !ambient {
		t.Skip("ambient lookups need the linkname build")
	}
	var mu sync.Mutex
	got := map[string]seen{} // by the request's path
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.Host+r.URL.Path] = seen{r.Header.Get("traceparent"), r.Header.Get("baggage")}
		mu.Unlock()
	}))
	defer srv.Close()
	// Every host name dials the loopback server.
	base := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}}
	defer base.CloseIdleConnections()
	p := propagator.New(propagator.WithEgress(propagator.EgressRule{Hosts: []string{"api.internal"}, Keys: []string{"user.id"}}))
	sdk := sdktrace.NewTracerProvider()
	defer func() { require.NoError(t, sdk.Shutdown(context.Background())) }()
	tp := baggagebridge.AmbientTracerProvider(sdk) // the opt-in
	clients := map[string]*http.Client{
		"transport": {Transport: propagator.NewTransport(base, p)},
		"otelhttp": {Transport: otelhttp.NewTransport(propagator.NewTransport(base, p),
			otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(p))},
	}
	get := func(c *http.Client, url string) {
		resp, err := c.Get(url) // no ctx
		if assert.NoError(t, err) {
			_ = resp.Body.Close()
		}
	}

	const requests = 50
	traces := make([]trace.TraceID, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			bag, err := baggage.Parse(fmt.Sprintf("user.id=u%02d,secret=s%02d", i, i))
			require.NoError(t, err)
			ctx, span := sdk.Tracer("test").Start(baggage.ContextWithBaggage(context.Background(), bag), "request")
			defer span.End()
			traces[i] = span.SpanContext().TraceID()
			asynctrack.Run(ctx, func(context.Context) {
				done := make(chan struct{})
				go func() { // a library's goroutine, with no ctx
					defer close(done)
					for name, c := range clients {
						get(c, fmt.Sprintf("http://api.internal/%s/%d", name, i))
						get(c, fmt.Sprintf("http://other.example/%s/%d", name, i))
					}
				}()
				<-done
			})
		})
	}
	wg.Wait()
	for name, c := range clients {
		get(c, "http://api.internal/"+name+"/outside")
	}

	mu.Lock()
	defer mu.Unlock()
	for name := range clients {
		for i := range requests {
			in := got[fmt.Sprintf("api.internal/%s/%d", name, i)]
			out := got[fmt.Sprintf("other.example/%s/%d", name, i)]
			assert.Contains(t, in.traceparent, traces[i].String(), "%s %d: the request's trace", name, i)
			assert.Contains(t, out.traceparent, traces[i].String(), "%s %d: the trace goes everywhere", name, i)
			assert.Equal(t, fmt.Sprintf("user.id=u%02d", i), in.baggage, "%s %d: what the host is granted", name, i)
			assert.Empty(t, out.baggage, "%s %d: nothing to an ungranted host", name, i)
		}
		outside := got["api.internal/"+name+"/outside"]
		assert.Empty(t, outside.baggage, "%s: outside every request, no baggage", name)
		for _, id := range traces { // otelhttp's client span is a root of its own
			assert.NotContains(t, outside.traceparent, id.String(), "%s: outside every request, no request's trace", name)
		}
	}
}
