package propagator

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/asynctrack"
)

// NewTransport returns an http.RoundTripper that makes each request's
// destination, the host of its URL, known to Inject (see
// ContextWithDestination) and then calls base, or http.DefaultTransport if
// base is nil. Whatever baggage the egress rules withhold, the trace context
// flows and otelhttp records its span.
//
// Wrap otelhttp's transport with it, so that otelhttp injects knowing the
// destination; this is the recommended order and costs one shallow request
// copy:
//
//	client := &http.Client{Transport: propagator.NewTransport(otelhttp.NewTransport(nil))}
//
// The other order, otelhttp.NewTransport(propagator.NewTransport(nil)), works
// too when the propagator is the global one: a request that arrives with
// trace context or baggage headers already set, injected before the
// destination was known, is cloned and injected again with
// otel.GetTextMapPropagator(). This costs a header copy per request.
func NewTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: detached{base}}
}

// detached calls base outside any asynctrack scope (see asynctrack.Exit).
// A transport starts the goroutines that dial, read and write a pooled
// connection from the request that first needs it, and they serve later
// requests too: they must not carry the first one's values. The request's
// ctx still carries them, for base and for httptrace callbacks that get it.
type detached struct{ base http.RoundTripper }

func (d detached) RoundTrip(r *http.Request) (resp *http.Response, err error) {
	asynctrack.Exit(r.Context(), func(context.Context) { resp, err = d.base.RoundTrip(r) })
	return resp, err
}

type transport struct {
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper. Like every RoundTripper it leaves r
// unmodified.
func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := ContextWithDestination(r.Context(), r.URL.Host)
	if !hasPropagationHeaders(r.Header) {
		return t.base.RoundTrip(r.WithContext(ctx))
	}
	r = r.Clone(ctx)
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(r.Header))
	return t.base.RoundTrip(r)
}

func hasPropagationHeaders(h http.Header) bool {
	return len(h[traceparentCanon]) > 0 || len(h[baggageCanon]) > 0
}

// PublicEndpoint returns middleware that marks the requests for which
// isPublic reports true as arriving at a public endpoint: Extract then drops
// their inbound baggage except the keys of WithPublicAllow, as
// WithPublicEndpoint does for every request. A nil isPublic marks every
// request.
//
// Put it outside otelhttp.NewHandler and give otelhttp the same function, so
// that a public request both starts a new trace and loses untrusted baggage:
//
//	isPublic := func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }
//	h := propagator.PublicEndpoint(isPublic)(
//		otelhttp.NewHandler(mux, "edge", otelhttp.WithPublicEndpointFn(isPublic)))
func PublicEndpoint(isPublic func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isPublic == nil || isPublic(r) {
				r = r.WithContext(ContextWithPublicEndpoint(r.Context()))
			}
			next.ServeHTTP(w, r)
		})
	}
}
