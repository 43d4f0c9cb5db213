// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"net/http"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/internal/envcheck"
	"github.com/otelctx/otelctx/internal/scopehook"
)

// NewTransport returns an http.RoundTripper that sends each request's
// baggage exactly as far as the egress rules of p grant it to the host the
// request is sent to, then calls base, or http.DefaultTransport if base is
// nil. p is a propagator New returned, or a composite holding one; nil
// stands for the global propagator, read at each request. The trace context
// is left as the layers outside wrote it, so it flows everywhere and
// otelhttp records its span.
//
// Put it innermost, where the request leaves the process, with otelhttp
// outside it:
//
//	client := &http.Client{Transport: otelhttp.NewTransport(propagator.NewTransport(http.DefaultTransport, nil))}
//
// Every request goes through it, whatever produced it: each redirect the
// client follows, each copy a retrying, failover or mirroring RoundTripper
// outside it sends elsewhere. See RoundTrip for what it writes.
func NewTransport(base http.RoundTripper, p propagation.TextMapPropagator) http.RoundTripper {
	markDestinationAware()
	if base == nil {
		base = http.DefaultTransport
	}
	_, wire := base.(*http.Transport)
	return &transport{base: detached{base}, prop: p, wire: wire}
}

// detached calls base outside any asynctrack scope (see asynctrack.Exit).
// A transport starts the goroutines that dial, read and write a pooled
// connection from the request that first needs it, and they serve later
// requests too: they must not carry the first one's values. The request's
// ctx still carries them, for base and for httptrace callbacks that get it.
type detached struct{ base http.RoundTripper }

func (d detached) RoundTrip(r *http.Request) (*http.Response, error) {
	defer scopehook.Back(scopehook.Leave()) // asynctrack.Exit, without a callback
	return d.base.RoundTrip(r)
}

type transport struct {
	base http.RoundTripper
	prop propagation.TextMapPropagator // nil: the global one
	// wire: base is an *http.Transport, which sends the request, headers
	// as they are, to the host of its URL.
	wire     bool
	noPolicy sync.Once
}

// RoundTrip implements http.RoundTripper. Like every RoundTripper it leaves r
// unmodified: when its baggage header or ctx must change, base gets a copy.
//
// It removes the request's baggage header, whatever wrote it (any global
// propagator, a hand injection, a header copied from elsewhere) and under
// any spelling, and writes instead the members of the baggage of r's ctx
// that the egress rules grant to r.URL.Host, as InjectBaggage does; the
// first time p holds no rules it reports that through otel.Handle, and
// writes none.
//
// If base is not an *http.Transport, NewTransport cannot tell where base
// finally sends the request (base may be otelhttp's transport, in the
// wrong order, or anything that forwards it elsewhere). It then writes only
// what every destination is granted ("*" rules), gives base a ctx whose
// baggage holds only that too, so that nothing inside can inject more, and
// counts and reports at a bounded rate what the host was granted beyond it
// (reason "egress.unverified_transport"), with the fix.
func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	defer envcheck.Served() // base injected
	r = adoptAmbient(r)
	ctx := r.Context()
	bag := baggage.FromContext(ctx)
	if bag.Len() == 0 && !hasHeader(r.Header, baggageCanon) {
		return t.base.RoundTrip(r)
	}
	p := policyOf(t.prop)
	var bg string
	if p == nil {
		t.noPolicy.Do(func() { otel.Handle(errNoPolicy) })
	} else {
		var host string
		if r.URL != nil {
			host = r.URL.Host
		}
		// From the original ctx: what the host was granted beyond "*"
		// is counted as withheld if unverified.
		bg = p.baggageFor(ctx, host, !t.wire)
	}
	out := r
	if !t.wire {
		if kept := p.everyHost(bag); kept.Len() != bag.Len() {
			out = r.WithContext(baggage.ContextWithBaggage(ctx, kept))
		}
	}
	if !hasOnlyBaggage(r.Header, bg) {
		if out == r {
			out = r.WithContext(ctx)
		}
		out.Header = r.Header.Clone()
		writeBaggage(propagation.HeaderCarrier(out.Header), bg)
	}
	return t.base.RoundTrip(out)
}

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
	setHeader(h, canon, nil)
}

// setHeader sets the values of canon in h to vals, an element of which must
// not be empty, and removes it under every other spelling; nil vals remove
// canon too.
func setHeader(h http.Header, canon string, vals []string) {
	for k := range h {
		if len(k) == len(canon) && k != canon && strings.EqualFold(k, canon) {
			delete(h, k)
		}
	}
	if vals == nil {
		delete(h, canon)
	} else {
		h[canon] = vals
	}
}
