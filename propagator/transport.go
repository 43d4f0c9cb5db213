// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/internal/envcheck"
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
// too when propagator.New is the global propagator: a request that arrives
// with a baggage header already set, injected before the destination was
// known, is cloned and injected again with it. With any other global
// propagator the baggage is withheld (see RoundTrip).
//
// A client that injects by hand with ContextWithDestination instead needs
// CheckRedirect and ContextWithCheckedRedirects, or Inject withholds the
// baggage granted to the destination: Go would copy it onto redirects to
// other hosts.
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
//
// A request that arrives with a baggage header was injected before its
// destination was known: the header is removed, whatever its spelling, and
// the global propagator injects again if it is this package's. If it is
// not, the request goes without baggage (the trace context stays) and the
// first such request is reported through otel.Handle: baggage never reaches
// a host the egress rules do not grant because a propagator that knows no
// rules injected it.
func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	defer envcheck.Served() // base injected
	ctx := contextWithTransportDestination(r.Context(), r.URL.Host)
	if !hasHeader(r.Header, baggageCanon) && !hasHeader(r.Header, traceparentCanon) {
		return t.base.RoundTrip(r.WithContext(ctx))
	}
	r = r.Clone(ctx)
	deleteHeader(r.Header, baggageCanon)
	if p, ok := ours(otel.GetTextMapPropagator()); ok {
		p.Inject(ctx, propagation.HeaderCarrier(r.Header))
	} else {
		foreignOnce.Do(func() {
			otel.Handle(errors.New("propagator: NewTransport got a request whose baggage was injected before " +
				"its destination was known, and the global propagator is not this package's: the baggage is " +
				"withheld; wrap otelhttp's transport with NewTransport, or make propagator.New the global propagator"))
		})
	}
	return t.base.RoundTrip(r)
}

var foreignOnce sync.Once

// hasHeader reports whether h holds canon under any spelling.
func hasHeader(h http.Header, canon string) bool {
	if len(h[canon]) > 0 {
		return true
	}
	for k := range h {
		if len(k) == len(canon) && k != canon && strings.EqualFold(k, canon) {
			return true
		}
	}
	return false
}

// deleteHeader removes canon from h under every spelling.
func deleteHeader(h http.Header, canon string) {
	delete(h, canon)
	for k := range h {
		if len(k) == len(canon) && strings.EqualFold(k, canon) {
			delete(h, k)
		}
	}
}

// CheckRedirect returns an http.Client CheckRedirect function for clients
// that inject by hand (Inject with ContextWithDestination and
// ContextWithCheckedRedirects) rather than through NewTransport: Go copies a
// request's headers onto its redirects, so a redirect to another host would
// carry baggage granted to the first.
// The function removes the baggage header from a redirect to any host other
// than the original request's, then calls next (nil: the default policy of
// at most 10 redirects).
func CheckRedirect(next func(req *http.Request, via []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
			deleteHeader(req.Header, baggageCanon)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
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
