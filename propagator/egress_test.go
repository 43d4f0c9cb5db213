// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The egress tests send requests to host names (api.internal, ...) that
// namedLoopback dials on 127.0.0.1, to receivers there. The rules: every
// host gets request.id, api.internal also user.id, b.internal also
// tenant.id.
var egressRules = []Option{
	WithEgress(EgressRule{Hosts: []string{"*"}, Keys: []string{"request.id"}}),
	WithEgress(EgressRule{Hosts: []string{"api.internal"}, Keys: []string{"user.id"}}),
	WithEgress(EgressRule{Hosts: []string{"b.internal"}, Keys: []string{"tenant.id"}}),
}

const (
	apiGrant   = "request.id=r1,user.id=u1"
	bGrant     = "request.id=r1,tenant.id=t1"
	everyGrant = "request.id=r1"
)

// namedLoopback returns an *http.Transport that dials 127.0.0.1, at the
// port of the address asked for, whatever its host name.
func namedLoopback(t *testing.T) *http.Transport {
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// at returns the URL of r under host name.
func at(t *testing.T, r *receiver, name string) string {
	u, err := url.Parse(r.URL)
	require.NoError(t, err)
	return "http://" + net.JoinHostPort(name, u.Port()) + "/"
}

// egressCtx returns a ctx with a sampled span of tp and a baggage of
// request.id, tenant.id and user.id.
func egressCtx(t *testing.T, tp trace.TracerProvider) context.Context {
	ctx := baggage.ContextWithBaggage(context.Background(), mustBaggage(t, "request.id=r1,tenant.id=t1,user.id=u1"))
	ctx, span := tp.Tracer("test").Start(ctx, "request")
	t.Cleanup(func() { span.End() })
	return ctx
}

func newTracerProvider(t *testing.T) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

// mirror sends each request to next, then a copy of it to host, as a
// mirroring or failover RoundTripper does.
type mirror struct {
	next http.RoundTripper
	host string
}

func (m mirror) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := m.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	c := r.Clone(r.Context())
	c.URL.Host, c.Host = m.host, ""
	if cres, err := m.next.RoundTrip(c); err == nil {
		_, _ = io.Copy(io.Discard, cres.Body)
		_ = cres.Body.Close()
	}
	return res, nil
}

// baggageOf returns the baggage header values of h under any spelling.
func baggageValues(h http.Header) []string {
	var vs []string
	for k, v := range h {
		if http.CanonicalHeaderKey(k) == "Baggage" {
			vs = append(vs, v...)
		}
	}
	return vs
}

// TestEgressMirror: a RoundTripper that sends a copy of the request to
// another host, wherever it sits, never gives that host the first one's
// grant. Before, between NewTransport and otelhttp (README's order then),
// the mirror got user.id, granted only to api.internal.
func TestEgressMirror(t *testing.T) {
	captureErrors(t)
	setGlobal(t, New(egressRules...))
	for _, tc := range []struct {
		name    string
		client  func(base http.RoundTripper, tp trace.TracerProvider, mirrorHost string) http.RoundTripper
		wantAPI string
	}{
		{"between otelhttp and NewTransport", func(base http.RoundTripper, tp trace.TracerProvider, host string) http.RoundTripper {
			return otelhttp.NewTransport(mirror{NewTransport(base, nil), host}, otelhttp.WithTracerProvider(tp))
		}, apiGrant},
		{"outside otelhttp", func(base http.RoundTripper, tp trace.TracerProvider, host string) http.RoundTripper {
			return mirror{otelhttp.NewTransport(NewTransport(base, nil), otelhttp.WithTracerProvider(tp)), host}
		}, apiGrant},
		{"between NewTransport and otelhttp", func(base http.RoundTripper, tp trace.TracerProvider, host string) http.RoundTripper {
			return NewTransport(mirror{otelhttp.NewTransport(base, otelhttp.WithTracerProvider(tp)), host}, nil)
		}, everyGrant}, // unverifiable: withheld
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := newTracerProvider(t)
			api, partner := newReceiver(t), newReceiver(t)
			mirrorHost := net.JoinHostPort("mirror.partner.example", portOf(t, partner))
			c := &http.Client{Transport: tc.client(namedLoopback(t), tp, mirrorHost)}
			send(t, egressCtx(t, tp), c, at(t, api, "api.internal"), nil)
			assert.Equal(t, []string{tc.wantAPI}, baggageValues(api.got(t)))
			assert.Equal(t, []string{everyGrant}, baggageValues(partner.got(t)), "the mirror gets only its own grant")
			assert.NotEmpty(t, partner.got(t).Get("traceparent"))
		})
	}
}

func portOf(t *testing.T, r *receiver) string {
	u, err := url.Parse(r.URL)
	require.NoError(t, err)
	return u.Port()
}

// TestEgressAnyGlobalPropagator: in README's order, whatever global
// propagator otelhttp injects with, each host receives exactly its grant;
// with no otelctx propagator in the global one there are no rules, so no
// baggage, and that is reported once. Before, a global composite holding
// the stock Baggage propagator got no host its grant.
func TestEgressAnyGlobalPropagator(t *testing.T) {
	stock := []propagation.TextMapPropagator{propagation.TraceContext{}, propagation.Baggage{}}
	for _, tc := range []struct {
		name       string
		global     propagation.TextMapPropagator
		api, other string
	}{
		{"stock TraceContext and Baggage", propagation.NewCompositeTextMapPropagator(stock...), "", ""},
		{"otelctx, then stock", propagation.NewCompositeTextMapPropagator(append([]propagation.TextMapPropagator{New(egressRules...)}, stock...)...), apiGrant, everyGrant},
		{"stock, then otelctx", propagation.NewCompositeTextMapPropagator(append(stock, New(egressRules...))...), apiGrant, everyGrant},
		{"otelctx", New(egressRules...), apiGrant, everyGrant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := captureErrors(t)
			setGlobal(t, tc.global)
			tp := newTracerProvider(t)
			ctx := egressCtx(t, tp)
			c := &http.Client{Transport: otelhttp.NewTransport(NewTransport(namedLoopback(t), nil), otelhttp.WithTracerProvider(tp))}
			api, other := newReceiver(t), newReceiver(t)
			send(t, ctx, c, at(t, api, "api.internal"), nil)
			send(t, ctx, c, at(t, other, "third-party.example"), nil)
			send(t, ctx, c, at(t, other, "third-party.example"), nil)
			want := func(v string) []string {
				if v == "" {
					return nil
				}
				return []string{v}
			}
			assert.Equal(t, want(tc.api), baggageValues(api.got(t)))
			other.mu.Lock()
			for _, h := range other.headers {
				assert.Equal(t, want(tc.other), baggageValues(h))
				assert.NotEmpty(t, h.Get("traceparent"), "the trace context flows")
			}
			other.mu.Unlock()
			if tc.api == "" {
				require.Len(t, errs(), 1, "reported once")
				assert.ErrorContains(t, errs()[0], "no otelctx propagator")
			} else {
				assert.Empty(t, errs())
			}
		})
	}
}

// TestEgressRedirects: each hop of a redirect goes through NewTransport,
// so the host redirected to gets only its own grant, with a plain client
// and with a CheckRedirect that copies the first request's baggage onto the
// redirect by hand; the trace context reaches both. Before, with a global
// composite, the first host got nothing.
func TestEgressRedirects(t *testing.T) {
	captureErrors(t)
	setGlobal(t, propagation.NewCompositeTextMapPropagator(New(egressRules...), propagation.TraceContext{}, propagation.Baggage{}))
	for _, tc := range []struct {
		name  string
		check func(*http.Request, []*http.Request) error
	}{
		{"plain client", nil},
		{"CheckRedirect copies baggage", func(req *http.Request, via []*http.Request) error {
			req.Header["baggage"] = []string{apiGrant}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := newTracerProvider(t)
			ctx := egressCtx(t, tp)
			b := newReceiver(t)
			a := newReceiver(t, http.RedirectHandler(at(t, b, "b.internal"), http.StatusFound))
			c := &http.Client{
				Transport:     otelhttp.NewTransport(NewTransport(namedLoopback(t), nil), otelhttp.WithTracerProvider(tp)),
				CheckRedirect: tc.check,
			}
			// Injected by hand too: Inject writes only what every host gets.
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, at(t, a, "api.internal"), nil)
			require.NoError(t, err)
			New(egressRules...).Inject(ctx, propagation.HeaderCarrier(req.Header))
			assert.Equal(t, everyGrant, req.Header.Get("baggage"))
			res, err := c.Do(req)
			require.NoError(t, err)
			require.NoError(t, res.Body.Close())

			assert.Equal(t, []string{apiGrant}, baggageValues(a.got(t)))
			assert.Equal(t, []string{bGrant}, baggageValues(b.got(t)), "the redirect gets only its own grant")
			traceID := trace.SpanContextFromContext(ctx).TraceID().String()
			for name, h := range map[string]http.Header{"first host": a.got(t), "redirect": b.got(t)} {
				sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(h)))
				assert.Equal(t, traceID, sc.TraceID().String(), name)
			}
		})
	}
}

// TestEgressWrongOrder: NewTransport outside otelhttp cannot verify where
// the request is finally sent: the host gets only what every host is
// granted, the rest is counted, and the fix is reported once. Before, the
// host got its whole grant.
func TestEgressWrongOrder(t *testing.T) {
	errs := captureErrors(t)
	reader, newP := meteredPropagator(t)
	p := newP(egressRules...) // given, not global
	tp := newTracerProvider(t)
	ctx := egressCtx(t, tp)
	c := &http.Client{Transport: NewTransport(otelhttp.NewTransport(namedLoopback(t),
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(p)), p)}
	api := newReceiver(t)
	send(t, ctx, c, at(t, api, "api.internal"), nil)
	send(t, ctx, c, at(t, api, "api.internal"), nil)
	api.mu.Lock()
	require.Len(t, api.headers, 2)
	for _, h := range api.headers {
		assert.Equal(t, []string{everyGrant}, baggageValues(h))
		assert.NotEmpty(t, h.Get("traceparent"))
	}
	api.mu.Unlock()
	require.Len(t, errs(), 1, "reported once")
	assert.ErrorContains(t, errs()[0], "put NewTransport innermost")
	assert.Equal(t, 2, int(counts(t, reader, "otelctx.baggage.dropped")["egress.unverified_transport"]))
}

// TestEgressWrongOrderStockGlobal: the case of the issue, README's order
// then with the stock propagators global: every member reached an
// ungranted host. Now nothing inside NewTransport sees any baggage.
func TestEgressWrongOrderStockGlobal(t *testing.T) {
	captureErrors(t)
	setGlobal(t, propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	tp := newTracerProvider(t)
	c := &http.Client{Transport: NewTransport(otelhttp.NewTransport(namedLoopback(t), otelhttp.WithTracerProvider(tp)), nil)}
	other := newReceiver(t)
	send(t, egressCtx(t, tp), c, at(t, other, "third-party.example"), nil)
	noBaggage(t, other.got(t))
}

// TestInjectBaggageAllocations: InjectBaggage of a baggage it wrote before
// reuses the header value, allocating only the http.Header's value slice.
func TestInjectBaggageAllocations(t *testing.T) {
	p := New(WithEgress(EgressRule{Hosts: []string{"api.internal"}, Keys: []string{"k", "user.id"}}))
	ctx := extract(p, "traceparent", suiteTraceparent, "baggage", "k=v,user.id=42")
	h := http.Header{}
	for range 2 { // kept the second time
		require.NoError(t, InjectBaggage(ctx, p, propagation.HeaderCarrier(h), "api.internal"))
	}
	require.Equal(t, "k=v,user.id=42", h.Get("baggage"))
	allocs := testing.AllocsPerRun(100, func() { _ = InjectBaggage(ctx, p, propagation.HeaderCarrier(h), "api.internal") })
	assert.LessOrEqual(t, allocs, 1.0)
	assert.Equal(t, "k=v,user.id=42", h.Get("baggage"))
}
