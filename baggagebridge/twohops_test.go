// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

// token is a local value of service A: it must never reach B.
var token = asynctrack.NewStore[string]()

// seen is what service B saw of a request, and A's reply to the client.
type seen struct {
	User     string `json:"user"`     // Current, in a goroutine started with go
	UserCtx  string `json:"userCtx"`  // Get on the handler's ctx
	Token    bool   `json:"token"`    // A's local value was visible
	Held     bool   `json:"held"`     // A's held value was visible
	TraceID  string `json:"traceId"`  // of the span B started ambiently
	SetError string `json:"setError"` // what A's Set of the held value returned
}

// hops is service A calling service B, each on a loopback server with its
// own tracer provider, both instrumented with otelhttp and Middleware.
type hops struct {
	a, b       *httptest.Server
	recA, recB *tracetest.SpanRecorder
	toA, toB   *http.Client

	mu      sync.Mutex
	headers []http.Header // as B received them
	conns   int           // connections B accepted
	logs    bytes.Buffer  // B's log lines
}

// newHops starts the two services. With outside set, B's Middleware wraps
// otelhttp's handler instead of the other way round.
func newHops(t *testing.T, outside bool) *hops {
	h := &hops{recA: tracetest.NewSpanRecorder(), recB: tracetest.NewSpanRecorder()}
	tpA := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(baggagebridge.NewSpanProcessor()),
		sdktrace.WithSpanProcessor(h.recA))
	tpB := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(baggagebridge.NewSpanProcessor()),
		sdktrace.WithSpanProcessor(h.recB))
	t.Cleanup(func() {
		_ = tpA.Shutdown(context.Background())
		_ = tpB.Shutdown(context.Background())
	})
	mw := baggagebridge.Middleware(baggagebridge.WithPropagators(w3c))
	instrument := func(h http.Handler, name string, tp trace.TracerProvider) http.Handler {
		return otelhttp.NewHandler(h, name, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(w3c),
			otelhttp.WithSpanNameFormatter(func(op string, _ *http.Request) string { return op }))
	}

	logger := slog.New(baggagebridge.NewLogHandler(slog.NewJSONHandler(lockedWriter{&h.mu, &h.logs}, nil)))
	b := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s seen
		s.UserCtx, _ = baggagebridge.Get(r.Context(), "user.id")
		done := make(chan struct{})
		go func() { // code that was handed no ctx
			defer close(done)
			s.User, _ = baggagebridge.Current("user.id")
			_, s.Token = token.Current()
			_, s.Held = baggagebridge.Current("held")
			_, span := tpB.Tracer("b").Start(asynctrack.Ambient(), "B.work")
			s.TraceID = span.SpanContext().TraceID().String()
			logger.Info("B.work")
			span.End()
		}()
		<-done
		_ = json.NewEncoder(w).Encode(s)
	})
	var bStack http.Handler
	if outside {
		bStack = mw(instrument(b, "B", tpB))
	} else {
		bStack = instrument(mw(b), "B", tpB)
	}
	h.b = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.headers = append(h.headers, r.Header.Clone())
		h.mu.Unlock()
		bStack.ServeHTTP(w, r)
	}))
	h.b.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			h.mu.Lock()
			h.conns++
			h.mu.Unlock()
		}
	}
	h.b.Start()
	t.Cleanup(h.b.Close)
	h.toB = newClient(t, func(rt http.RoundTripper) http.RoundTripper {
		return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(tpA), otelhttp.WithPropagators(w3c))
	})

	a := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		ctx, err := baggagebridge.Set(r.Context(), "user.id", user)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx = token.With(ctx, "token-"+user)
		ctx, err = baggagebridge.Set(ctx, "held", strings.Repeat("h", 9000))
		var s seen
		var callErr error
		asynctrack.Run(ctx, func(context.Context) { s, callErr = h.callB() })
		if callErr != nil {
			http.Error(w, callErr.Error(), http.StatusBadGateway)
			return
		}
		if errors.Is(err, baggagebridge.ErrTooLarge) {
			s.SetError = "ErrTooLarge"
		}
		_ = json.NewEncoder(w).Encode(s)
	})
	h.a = httptest.NewServer(instrument(mw(a), "A", tpA))
	t.Cleanup(h.a.Close)
	h.toA = newClient(t, nil)
	return h
}

// callB calls service B from code that holds no ctx.
func (h *hops) callB() (seen, error) {
	var s seen
	req, err := http.NewRequestWithContext(asynctrack.Ambient(), http.MethodGet, h.b.URL, nil)
	if err != nil {
		return s, err
	}
	resp, err := h.toB.Do(req)
	if err != nil {
		return s, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("B: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// drain reads what is left of resp's body and closes it, so that the
// connection can serve the next request.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

func (h *hops) request(user string) (seen, error) {
	var s seen
	resp, err := h.toA.Get(h.a.URL + "/?user=" + user)
	if err != nil {
		return s, err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("A: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func spanAttr(s sdktrace.ReadOnlySpan, key string) (string, bool) {
	for _, a := range s.Attributes() {
		if a.Key == attribute.Key(key) {
			return a.Value.Emit(), true
		}
	}
	return "", false
}

func spansByName(spans []sdktrace.ReadOnlySpan) map[string][]sdktrace.ReadOnlySpan {
	m := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		m[s.Name()] = append(m[s.Name()], s)
	}
	return m
}

func TestTwoHops(t *testing.T) {
	requireAmbient(t)
	for _, outside := range []bool{false, true} {
		t.Run(fmt.Sprintf("middleware outside otelhttp=%v", outside), func(t *testing.T) {
			h := newHops(t, outside)
			s, err := h.request("u1")
			require.NoError(t, err)
			assert.Equal(t, "u1", s.User, "B reads A's value ambiently in a plain goroutine")
			assert.Equal(t, "u1", s.UserCtx)
			assert.False(t, s.Token, "A's local value is not in B")
			assert.False(t, s.Held, "A's held value is not in B")
			assert.Equal(t, "ErrTooLarge", s.SetError)

			// The raw headers B received.
			h.mu.Lock()
			require.Len(t, h.headers, 1)
			hdr := h.headers[0]
			logs := h.logs.String()
			h.mu.Unlock()
			assert.Equal(t, "user.id=u1", hdr.Get("baggage"))
			assert.NotEmpty(t, hdr.Get("traceparent"))
			for name, vs := range hdr {
				for _, v := range vs {
					assert.NotContains(t, v, "token-", name)
					assert.NotContains(t, v, "hhhh", name)
				}
			}

			// Spans: one trace, B's carry the value, A's carry no local value.
			a, b := spansByName(h.recA.Ended()), spansByName(h.recB.Ended())
			require.Len(t, a["A"], 1)
			require.Len(t, a["HTTP GET"], 1, "A's client span")
			require.Len(t, b["B"], 1)
			require.Len(t, b["B.work"], 1)
			client, server, work := a["HTTP GET"][0], b["B"][0], b["B.work"][0]
			traceID := a["A"][0].SpanContext().TraceID()
			for _, s := range []sdktrace.ReadOnlySpan{client, server, work} {
				assert.Equal(t, traceID, s.SpanContext().TraceID(), s.Name())
			}
			assert.Equal(t, traceID.String(), s.TraceID)
			assert.Equal(t, client.SpanContext().SpanID(), server.Parent().SpanID())
			if outside {
				// The scope opened before otelhttp's server span.
				assert.Equal(t, client.SpanContext().SpanID(), work.Parent().SpanID())
			} else {
				assert.Equal(t, server.SpanContext().SpanID(), work.Parent().SpanID())
			}
			for _, s := range []sdktrace.ReadOnlySpan{client, server, work} {
				v, ok := spanAttr(s, "user.id")
				assert.True(t, ok, s.Name())
				assert.Equal(t, "u1", v, s.Name())
			}
			for _, s := range h.recA.Ended() {
				for _, kv := range s.Attributes() {
					assert.NotContains(t, kv.Value.Emit(), "token-", s.Name())
				}
			}

			// B's log line from the plain goroutine.
			var line map[string]any
			require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(logs)), &line), logs)
			assert.Equal(t, "u1", line["user.id"])
			assert.Equal(t, traceID.String(), line["trace_id"])
			// Logged without a ctx: the span is the ambient one, B.work's parent.
			assert.Equal(t, work.Parent().SpanID().String(), line["span_id"])
		})
	}
}

// TestTwoHopsConcurrent sends 1,000 requests with distinct values through
// both services, 50 at a time: every reply, span and header must belong to
// its own request.
func TestTwoHopsConcurrent(t *testing.T) {
	requireAmbient(t)
	const requests, parallel = 1000, 50
	h := newHops(t, false)
	var mismatches, failures atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			user := fmt.Sprintf("u%04d", i)
			s, err := h.request(user)
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			if s.User != user || s.UserCtx != user || s.Token || s.Held {
				mismatches.Add(1)
			}
		}()
	}
	wg.Wait()
	require.Zero(t, failures.Load(), "first error: %v", firstErr.Load())
	assert.Zero(t, mismatches.Load(), "replies")

	// Every span of B carries the user of its trace, as A's client span has it.
	userOf := map[trace.TraceID]string{}
	for _, s := range h.recA.Ended() {
		if s.Name() == "HTTP GET" {
			v, ok := spanAttr(s, "user.id")
			require.True(t, ok, "A's client span carries user.id")
			userOf[s.SpanContext().TraceID()] = v
		}
	}
	require.Len(t, userOf, requests)
	spanMismatches := 0
	spansB := h.recB.Ended()
	require.Len(t, spansB, 2*requests)
	for _, s := range spansB {
		if v, _ := spanAttr(s, "user.id"); v != userOf[s.SpanContext().TraceID()] {
			spanMismatches++
		}
	}
	assert.Zero(t, spanMismatches, "spans")

	h.mu.Lock()
	defer h.mu.Unlock()
	assert.LessOrEqual(t, h.conns, 2*parallel, "B's connections are kept alive and reused")
	require.Len(t, h.headers, requests)
	users := map[string]bool{}
	for _, hdr := range h.headers {
		users[hdr.Get("baggage")] = true
		for _, vs := range hdr {
			for _, v := range vs {
				assert.NotContains(t, v, "token-")
			}
		}
	}
	assert.Len(t, users, requests, "a distinct baggage header per request")
}
