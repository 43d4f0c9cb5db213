// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"context"
	"net/http"
	"net/url"
	"sync/atomic"

	"go.opentelemetry.io/otel/baggage"

	"github.com/otelctx/otelctx/internal/reqinfo"
)

// request is the resource value of a request: what the exporter's live view
// shows of it (reqinfo.Describer). It holds no part of the *http.Request
// that a handler may change; set changes when Set gives the request a
// value (see enter).
//
// It is also the request's context, the one Middleware derives from the
// request's: its Value answers requestKey with itself, so that Set finds it
// (requestOf) without a context layer of its own.
type request struct {
	context.Context
	sel     *selection
	arrived baggage.Baggage                 // what the request arrived with
	set     atomic.Pointer[baggage.Baggage] // what Set made it since, if anything
	method  string
	pattern string // the request's Pattern when it reached Middleware
	// mux routes the request when pattern is "": the ServeMux Middleware
	// wraps, nil if it wraps another handler; host, urlHost, path and
	// rawPath are what it routes by.
	mux                          *http.ServeMux
	host, urlHost, path, rawPath string
}

var _ reqinfo.Describer = (*request)(nil)

// describe returns the request r, whose context is ctx, as a request: its
// description and the context to serve it with.
func (h *handler) describe(ctx context.Context, r *http.Request) *request {
	d := &request{Context: ctx, sel: &h.m.sel, arrived: baggage.FromContext(ctx), method: r.Method, pattern: r.Pattern}
	if mux, ok := h.next.(*http.ServeMux); ok && d.pattern == "" && r.URL != nil {
		d.mux, d.host, d.urlHost, d.path, d.rawPath = mux, r.Host, r.URL.Host, r.URL.Path, r.URL.RawPath
	}
	return d
}

// DescribeRequest returns the request's method, route and selected values.
// The route of a request that reached Middleware unrouted is the pattern
// its ServeMux matches for it now, found with ServeMux.Handler.
func (d *request) DescribeRequest() reqinfo.Request {
	rq := reqinfo.Request{Method: d.method, Route: d.pattern}
	if d.mux != nil {
		_, rq.Route = d.mux.Handler(&http.Request{Method: d.method, Host: d.host,
			URL: &url.URL{Host: d.urlHost, Path: d.path, RawPath: d.rawPath}})
	}
	bag := d.arrived
	if p := d.set.Load(); p != nil {
		bag = *p
	}
	for _, a := range d.sel.enrichMembers(bag.Members(), true).logs {
		rq.Values = append(rq.Values, reqinfo.KeyValue{Key: a.Key, Value: a.Value.String()})
	}
	return rq
}

// requestKey is the context key of the request Middleware serves.
type requestKey struct{}

// Value returns d for requestKey, else what d's context holds.
func (d *request) Value(key any) any {
	if key == (requestKey{}) {
		return d
	}
	return d.Context.Value(key)
}

// requestOf returns the request ctx belongs to, or nil.
func requestOf(ctx context.Context) *request {
	d, _ := ctx.Value(requestKey{}).(*request)
	return d
}
