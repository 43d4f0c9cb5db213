// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package bench serves the handler of the HTTP load benchmark in four
// setups, for BenchmarkHTTP and cmd/load:
//
//   - nethttp: plain net/http, no OpenTelemetry;
//   - otelhttp: otelhttp's handler and transport, the stock W3C propagators,
//     the SDK with an in-memory exporter;
//   - baggagecopy: otelhttp plus contrib's baggagecopy span processor
//     copying the two values onto every span: the stock way to the values
//     full puts on the same spans;
//   - full: otelhttp, plus the bridge middleware (an asynctrack scope per
//     request) and span processor (wrapping the exporting one), the otelctx
//     propagator with its transport, and asynctrack.Go for the goroutines.
//
// The handler starts two goroutines, each reading one request value, makes
// one outbound call to a second loopback server, and answers 204 No
// Content once all three are done.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/contrib/processors/baggagecopy"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/examples/internal/server"
	"github.com/otelctx/otelctx/propagator"
)

// Variants are the setups, in the order the benchmark runs them.
var Variants = []string{"nethttp", "otelhttp", "baggagecopy", "full"}

// The request values: baggage keys, and headers for nethttp.
const (
	userKey       = "user.id"
	requestKey    = "request.id"
	userHeader    = "Userid"
	requestHeader = "X-Request-Id"
)

// Target is a running setup: a frontend serving the handler and the backend
// it calls, each on a loopback port.
type Target struct {
	// URL is the frontend's URL.
	URL string
	// Header is what a client sends with each request: the two values.
	Header http.Header
	// Exporter holds the spans of the setups that record them, else nil.
	Exporter *tracetest.InMemoryExporter

	variant           string
	without           part // for full: what is left out or replaced
	tp                *sdktrace.TracerProvider
	frontend, backend *server.Server
	transport         *http.Transport
}

// Start starts the setup variant.
func Start(variant string) (_ *Target, err error) {
	t, err := newTarget(variant, allParts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.Shutdown(context.Background()))
		}
	}()
	if t.backend, err = server.Start("127.0.0.1:0", t.backendHandler()); err != nil {
		return t, err
	}
	if t.frontend, err = server.Start("127.0.0.1:0", t.frontendHandler(t.backend.Host, t.backend.URL)); err != nil {
		return t, err
	}
	t.URL = t.frontend.URL
	return t, nil
}

// part is a part of full that BenchmarkHTTPInProcess leaves out or
// replaces, to price it.
type part int

const (
	allParts         part = iota
	noSpanValues          // no WrapSpanProcessor: the spans carry no values
	startValues           // NewSpanProcessor: the values set as the spans start
	noMiddleware          // no Middleware: no scope per request
	plainGo               // go statements for the handler's goroutines
	stockPropagators      // the stock propagators, and no NewTransport
)

// newTarget returns variant's target, with no server yet; without, for
// full, leaves one part out.
func newTarget(variant string, without part) (*Target, error) {
	if !slices.Contains(Variants, variant) {
		return nil, fmt.Errorf("bench: unknown variant %q, want one of %q", variant, Variants)
	}
	t := &Target{variant: variant, without: without, transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	if variant == "nethttp" {
		t.Header = http.Header{userHeader: {"ada"}, requestHeader: {"r-1"}}
		return t, nil
	}
	t.Header = http.Header{"Baggage": {userKey + "=ada," + requestKey + "=r-1"}}
	t.Exporter = tracetest.NewInMemoryExporter()
	// A batch processor that never drops a span, so that every setup
	// exports all it records; under full the bridge wraps it, as in
	// README's setup.
	var sp sdktrace.SpanProcessor = sdktrace.NewBatchSpanProcessor(t.Exporter, sdktrace.WithBlocking())
	var opts []sdktrace.TracerProviderOption
	switch variant {
	case "full":
		switch without {
		case noSpanValues:
		case startValues:
			opts = append(opts, sdktrace.WithSpanProcessor(baggagebridge.NewSpanProcessor()))
		default:
			sp = baggagebridge.WrapSpanProcessor(sp)
		}
	case "baggagecopy":
		// Registered first, so that the values are set before the
		// exporting processor sees the span start.
		opts = append(opts, sdktrace.WithSpanProcessor(baggagecopy.NewSpanProcessor(copyValues)))
	}
	t.tp = sdktrace.NewTracerProvider(append(opts, sdktrace.WithSpanProcessor(sp))...)
	return t, nil
}

// backendHandler returns the backend's handler.
func (t *Target) backendHandler() http.Handler {
	return t.handler(http.HandlerFunc(backend), "backend", t.propagator(""))
}

// frontendHandler returns the frontend's handler, which calls the backend
// at backendURL, on host backendHost.
func (t *Target) frontendHandler(backendHost, backendURL string) http.Handler {
	p := t.propagator(backendHost)
	h := &handler{client: &http.Client{Transport: t.roundTripper(p)}, backend: backendURL, spawn: goStatement}
	switch t.variant {
	case "nethttp":
		h.value = func(_ context.Context, r *http.Request, key string) string {
			if key == userKey {
				return r.Header.Get(userHeader)
			}
			return r.Header.Get(requestHeader)
		}
	case "otelhttp", "baggagecopy":
		h.value = func(ctx context.Context, _ *http.Request, key string) string {
			return baggage.FromContext(ctx).Member(key).Value()
		}
	case "full":
		if t.without != plainGo {
			h.spawn = asynctrack.Go
		}
		h.value = func(ctx context.Context, _ *http.Request, key string) string {
			v, _ := baggagebridge.Get(ctx, key)
			return v
		}
	}
	return t.handler(h, "frontend", p)
}

// withRequestID returns t.Header with the request ID id in place of r-1.
func (t *Target) withRequestID(id string) http.Header {
	h := t.Header.Clone()
	if t.variant == "nethttp" {
		h.Set(requestHeader, id)
	} else {
		h.Set("Baggage", userKey+"=ada,"+requestKey+"="+id)
	}
	return h
}

// Do sends one request to the target with c, as a client of the
// benchmark does, and wants 204 No Content.
func (t *Target) Do(ctx context.Context, c *http.Client) error {
	return t.send(ctx, c, t.Header.Clone())
}

// send is Do with the request headers h.
func (t *Target) send(ctx context.Context, c *http.Client, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return err
	}
	req.Header = h
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return nil
}

// propagator returns the propagator of a service that sends baggage to
// egressHost, if not empty.
func (t *Target) propagator(egressHost string) propagation.TextMapPropagator {
	switch t.variant {
	case "otelhttp", "baggagecopy":
		return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	case "full":
		if t.without == stockPropagators {
			return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
		}
		var rules []propagator.EgressRule
		if egressHost != "" {
			rules = append(rules, propagator.EgressRule{Hosts: []string{egressHost}, Keys: []string{userKey, requestKey}})
		}
		return propagator.New(propagator.WithIngressAllow(userKey, requestKey), propagator.WithEgress(rules...))
	}
	return nil
}

func (t *Target) handler(h http.Handler, name string, p propagation.TextMapPropagator) http.Handler {
	switch t.variant {
	case "full":
		if t.without != noMiddleware {
			h = baggagebridge.Middleware(baggagebridge.WithPropagators(p))(h)
		}
		fallthrough
	case "otelhttp", "baggagecopy":
		h = otelhttp.NewHandler(h, name, otelhttp.WithTracerProvider(t.tp), otelhttp.WithPropagators(p))
	}
	return h
}

func (t *Target) roundTripper(p propagation.TextMapPropagator) http.RoundTripper {
	if t.variant == "nethttp" {
		return t.transport
	}
	var base http.RoundTripper = t.transport
	if t.variant == "full" && t.without != stockPropagators {
		base = propagator.NewTransport(base, p)
	}
	return otelhttp.NewTransport(base, otelhttp.WithTracerProvider(t.tp), otelhttp.WithPropagators(p))
}

// Shutdown stops the servers and the TracerProvider.
func (t *Target) Shutdown(ctx context.Context) error {
	var err error
	if t.frontend != nil {
		err = errors.Join(err, t.frontend.Shutdown(ctx))
	}
	t.transport.CloseIdleConnections()
	if t.backend != nil {
		err = errors.Join(err, t.backend.Shutdown(ctx))
	}
	if t.tp != nil {
		err = errors.Join(err, t.tp.Shutdown(ctx))
	}
	return err
}

// handler is the frontend's handler, the same in every setup but for how it
// starts goroutines and reads values.
type handler struct {
	client  *http.Client
	backend string
	// spawn starts fn in a goroutine, and value reads a request value.
	spawn func(ctx context.Context, fn func(context.Context))
	value func(ctx context.Context, r *http.Request, key string) string
}

func goStatement(ctx context.Context, fn func(context.Context)) { go fn(ctx) }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var (
		wg          sync.WaitGroup
		user, reqID string
	)
	wg.Add(2)
	h.spawn(ctx, func(ctx context.Context) { defer wg.Done(); user = h.value(ctx, r, userKey) })
	h.spawn(ctx, func(ctx context.Context) { defer wg.Done(); reqID = h.value(ctx, r, requestKey) })
	err := h.call(ctx)
	wg.Wait()
	switch {
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadGateway)
	case user != "ada" || !strings.HasPrefix(reqID, "r-"):
		http.Error(w, fmt.Sprintf("request values %q, %q, want \"ada\", \"r-…\"", user, reqID), http.StatusBadRequest)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *handler) call(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.backend, nil)
	if err != nil {
		return err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("backend answered %s", resp.Status)
	}
	return nil
}

// copyValues is baggagecopy's filter: the two request values.
func copyValues(m baggage.Member) bool { return m.Key() == userKey || m.Key() == requestKey }

// backend is the second server's handler.
func backend(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }
