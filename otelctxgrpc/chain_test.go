// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"

	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/otelctxgrpc"
	"github.com/otelctx/otelctx/propagator"
)

// TestChain: HTTP edge A → gRPC unary B → gRPC server stream C → HTTP D.
// One trace; user.id, sent by the client, is on every hop's spans and
// readable with and without a ctx at each hop; local.secret, set at A and
// granted nowhere, stays in A.
func TestChain(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(baggagebridge.NewSpanProcessor()), sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	prop := propagator.New(propagator.WithEgress(propagator.EgressRule{
		Hosts: []string{"127.0.0.1", "svc-b", "svc-c"}, Keys: []string{"user.id"}}))

	var mu sync.Mutex
	seen := map[string]string{} // hop -> observe(user.id) + "|" + observe(local.secret)
	var headersD http.Header
	see := func(hop string, ctx context.Context) {
		v := observe(ctx, "user.id") + "|" + observe(ctx, "local.secret")
		mu.Lock()
		seen[hop] = v
		mu.Unlock()
	}
	httpServer := func(name string, h http.HandlerFunc) *httptest.Server {
		s := httptest.NewServer(otelhttp.NewHandler(baggagebridge.Middleware(baggagebridge.WithPropagators(prop))(h), name,
			otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop)))
		t.Cleanup(s.Close)
		return s
	}
	client := &http.Client{Transport: otelhttp.NewTransport(propagator.NewTransport(http.DefaultTransport, prop),
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop))}
	t.Cleanup(client.CloseIdleConnections)
	get := func(ctx context.Context, url string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	grpcServer := func(srv *echo) string {
		return serve(t, srv, append(otelctxgrpc.ServerOptions(otelctxgrpc.WithPropagators(prop)),
			grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))))...)
	}
	grpcClient := func(target, addr string) *grpc.ClientConn {
		return dial(t, target, addr, otelctxgrpc.DialOptions(prop,
			otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop)))...)
	}

	d := httpServer("D", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		headersD = r.Header.Clone()
		mu.Unlock()
		see("D", r.Context())
	})
	c := grpcServer(&echo{stream: func(ctx context.Context, in string, send func(string) error) error {
		see("C", ctx)
		if err := get(ctx, d.URL); err != nil {
			return err
		}
		return send(in)
	}})
	toC := grpcClient("dns:///svc-c:50051", c)
	b := grpcServer(&echo{unary: func(ctx context.Context, in string) (string, error) {
		see("B", ctx)
		out, err := callStream(ctx, toC, in)
		if err != nil || len(out) != 1 {
			return "", err
		}
		return out[0], nil
	}})
	toB := grpcClient("svc-b:50051", b)
	a := httpServer("A", func(w http.ResponseWriter, r *http.Request) {
		ctx, err := baggagebridge.Set(r.Context(), "local.secret", "s")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		see("A", ctx)
		if _, err := callUnary(ctx, toB, "x"); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
		}
	})

	ctx := withBaggage(t, context.Background(), "user.id", "u1")
	ctx, root := tp.Tracer("test").Start(ctx, "client")
	require.NoError(t, get(ctx, a.URL))
	root.End()

	mu.Lock()
	defer mu.Unlock()
	// Set's value is in A's ctx; what A starts without it need not see it.
	assert.True(t, strings.HasPrefix(seen["A"], "u1,u1,u1,u1,u1|s"), seen["A"])
	for _, hop := range []string{"B", "C", "D"} {
		assert.Equal(t, "u1,u1,u1,u1,u1|,,,,", seen[hop], hop)
	}
	assert.Equal(t, []string{"user.id=u1"}, headersD.Values("Baggage"))

	// A stream's client span ends as gRPC finishes the stream, which may
	// be just after the last message arrives: wait for it, bounded.
	require.Eventually(t, func() bool { return len(rec.Ended()) >= 9 }, 10*time.Second, time.Millisecond)
	spans := rec.Ended()
	names := []string{}
	for _, s := range spans {
		names = append(names, s.SpanKind().String()+":"+s.Name())
	}
	require.Len(t, spans, 9, names) // the root; a client and a server span for each of A, B, C, D
	for _, s := range spans {
		assert.Equal(t, root.SpanContext().TraceID(), s.SpanContext().TraceID(), s.Name())
		if s.SpanKind().String() == "server" {
			assert.Contains(t, s.Attributes(), attrString("user.id", "u1"), s.Name())
			if s.Name() != "A" {
				for _, kv := range s.Attributes() {
					assert.NotEqual(t, "local.secret", string(kv.Key), s.Name())
				}
			}
		}
	}
}
