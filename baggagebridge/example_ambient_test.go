// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

//go:build !otelctx_nolinkname

// These examples read values without a ctx, which builds with the
// otelctx_nolinkname tag do not support.

package baggagebridge_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

// A service set up in four steps: the span processor and the log handler
// at SDK setup, the middleware around the handlers, and values read
// anywhere in a request's work.
func Example() {
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

	// 1. Spans get the request's values.
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(baggagebridge.NewSpanProcessor(baggagebridge.WithKeys("user.id"))),
		sdktrace.WithSpanProcessor(rec),
	)
	defer func() { _ = tp.Shutdown(context.Background()) }()

	// 2. So do log lines, with the span's IDs (elided here: they are random).
	logger := slog.New(baggagebridge.NewLogHandler(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey:
				return slog.Attr{}
			case "trace_id", "span_id":
				a.Value = slog.StringValue("…")
			}
			return a
		},
	}), baggagebridge.WithKeys("user.id")))

	// 3. Each request runs in a scope of its own, inside otelhttp.
	mux := http.NewServeMux()
	mux.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
		done := make(chan struct{})
		go func() { // any goroutine of the request, handed no ctx
			defer close(done)
			logger.Info("loading orders")
		}()
		<-done
		_, _ = io.WriteString(w, userID())
	})
	handler := otelhttp.NewHandler(baggagebridge.Middleware(baggagebridge.WithPropagators(prop))(mux), "orders",
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop))
	srv := httptest.NewServer(handler)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/orders", nil)
	req.Header.Set("baggage", "user.id=42")
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	fmt.Println("reply:", string(body))
	for _, kv := range rec.Ended()[0].Attributes() {
		if kv.Key == "user.id" {
			fmt.Printf("server span: %s=%s\n", kv.Key, kv.Value.Emit())
		}
	}
	// Output:
	// level=INFO msg="loading orders" trace_id=… span_id=… user.id=42
	// reply: user 42
	// server span: user.id=42
}

func ExampleCurrent() {
	ctx, _ := baggagebridge.Set(context.Background(), "tenant", "acme")
	// Run makes ctx ambient: code without a ctx, and the goroutines it
	// starts, see its values.
	asynctrack.Run(ctx, func(context.Context) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			tenant, _ := baggagebridge.Current("tenant")
			fmt.Println("tenant:", tenant)
		}()
		<-done
	})
	_, ok := baggagebridge.Current("tenant")
	fmt.Println("after Run:", ok)
	// Output:
	// tenant: acme
	// after Run: false
}

func ExampleMiddleware() {
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	h := baggagebridge.Middleware(baggagebridge.WithPropagators(prop))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			fmt.Println("resource:", asynctrack.ExecutionID(r.Context()) != 0)
			fmt.Println("user.id:", userID())
		}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("baggage", "user.id=42")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output:
	// resource: true
	// user.id: user 42
}
