// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"context"
	"net/http"
	"runtime/pprof"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/internal/envcheck"
)

// TypeHTTPRequest is the asynctrack resource type of the requests Middleware
// serves.
const TypeHTTPRequest = "http.request"

// Middleware returns HTTP middleware that runs each request in an asynctrack
// resource of its own, of type "http.request": the handler's context, and
// everything the handler starts, ambiently included, see the request's
// values. The handler gets a copy of the request with that context; when it
// returns, Middleware sets the request it was given's Pattern to the
// copy's, so that the pattern a mux inside matched reaches otelhttp
// outside, as without Middleware. The resource is per request, not per
// connection: each request on a keep-alive connection gets its own, and the
// connection's goroutine is back in its own scope between requests.
//
// Inbound values come through the propagator (WithPropagators): Middleware
// reads no header itself, so a header the propagator's policy does not
// accept never becomes a value. Legacy headers such as userid or
// x-request-id become values when the propagator maps them to baggage keys
// (the otelctx propagator's WithLegacyHeader does), under its ingress
// policy like any other member.
//
// Middleware composes with otelhttp.NewHandler in either order. Inside it
// (otelhttp.NewHandler(Middleware()(h), ...)), which is the recommended
// order, the request's context already carries the extracted values and the
// server span, and Middleware does not extract again; the ambient context
// then carries the server span too. Outside it, Middleware extracts, so the
// values are ambient all the same, but the server span otelhttp starts
// afterwards is in the handler's ctx only. Middleware extracts whenever the
// request's context carries no valid span context.
//
// With WithProfileLabels, the request's goroutines also carry the selected
// values as pprof labels.
//
// The exporter's live view shows each request's method, its route (the
// pattern of the ServeMux that serves it: the one Middleware wraps, or one
// that routed to Middleware) and its baggage values that WithKeys and
// WithKeyPrefixes select, redacted or hashed as WithRedacted and WithHashed
// say: those it arrived with, and from then on those Set gives the request
// (an auth middleware behind this one setting the user); they are computed
// only when the view is requested.
func Middleware(opts ...MiddlewareOption) func(http.Handler) http.Handler {
	c := newMiddlewareConfig(opts...)
	m := &middleware{prop: c.propagator, sel: newSelection(c.config), labelKeys: c.labelKeys}
	return func(next http.Handler) http.Handler {
		return &handler{m: m, next: next}
	}
}

type middleware struct {
	prop      propagation.TextMapPropagator
	sel       selection
	labelKeys []string
}

type handler struct {
	m    *middleware
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = h.m.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	envcheck.Served()       // the request's baggage is extracted, here or by otelhttp
	d := h.describe(ctx, r) // also ctx, with the request for Set (see enter)
	res := asynctrack.NewResource(d, TypeHTTPRequest, d)
	defer res.Destroy()
	res.Run(func(ctx context.Context) {
		var inner *http.Request
		if labels, ok := h.m.labels(ctx); ok {
			// pprof.Do keeps the scope's own label: asynctrack merges.
			pprof.Do(ctx, labels, func(ctx context.Context) {
				inner = r.WithContext(ctx)
				h.next.ServeHTTP(w, inner)
			})
		} else {
			inner = r.WithContext(ctx)
			h.next.ServeHTTP(w, inner)
		}
		// A mux sets the matched pattern on the request it was given; hand
		// it back so that outer middleware such as otelhttp can name spans.
		r.Pattern = inner.Pattern
	})
}

// labels returns the profile labels of the request whose context is ctx.
func (m *middleware) labels(ctx context.Context) (pprof.LabelSet, bool) {
	if len(m.labelKeys) == 0 {
		return pprof.LabelSet{}, false
	}
	bag := baggage.FromContext(ctx)
	var kv []string
	for _, key := range m.labelKeys {
		if mem := bag.Member(key); mem.Key() != "" {
			k, v := m.sel.attr(key, mem.Value())
			kv = append(kv, k, v)
		}
	}
	if kv == nil {
		return pprof.LabelSet{}, false
	}
	return pprof.Labels(kv...), true
}
