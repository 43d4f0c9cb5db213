// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

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
			case baggagebridge.TraceIDKey, baggagebridge.SpanIDKey:
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
	handler := otelhttp.NewHandler(baggagebridge.Middleware(baggagebridge.WithPropagator(prop))(mux), "orders",
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

// 4. Code deep in the request reads the value with no ctx parameter.
func userID() string {
	id, ok := baggagebridge.Current("user.id")
	if !ok {
		return "anonymous"
	}
	return "user " + id
}

func ExampleSet() {
	ctx, err := baggagebridge.Set(context.Background(), "user.name", "Zoë, admin")
	if err != nil {
		fmt.Println(err)
		return
	}
	v, _ := baggagebridge.Get(ctx, "user.name")
	fmt.Println(v)

	// What the propagators send: the value, percent-encoded.
	carrier := propagation.MapCarrier{}
	propagation.Baggage{}.Inject(ctx, carrier)
	fmt.Println(carrier["baggage"])

	// Stock baggage would accept this key and then leave it out of the header.
	_, err = baggagebridge.Set(ctx, "clé", "x")
	fmt.Println(err)
	// Output:
	// Zoë, admin
	// user.name=Zo%C3%AB%2C%20admin
	// baggagebridge: invalid key: "clé"
}

func ExampleSet_tooLarge() {
	ctx, err := baggagebridge.Set(context.Background(), "avatar", strings.Repeat("x", 10000))
	fmt.Println(err)
	v, _ := baggagebridge.Get(ctx, "avatar")
	fmt.Println(len(v), "bytes, readable here")
	// Output:
	// baggagebridge: baggage over the W3C limits: ["avatar"] kept in this process only
	// 10000 bytes, readable here
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

// Values that must never leave the process live in an asynctrack.Store
// beside the baggage.
func Example_localValues() {
	type account struct{ Name string }
	current := asynctrack.NewStore[*account]()

	ctx, _ := baggagebridge.Set(context.Background(), "account.id", "7")
	ctx = current.With(ctx, &account{Name: "Ada"})
	if a, ok := current.Value(ctx); ok {
		fmt.Println("local:", a.Name)
	}

	carrier := propagation.MapCarrier{}
	propagation.Baggage{}.Inject(ctx, carrier)
	fmt.Println("sent:", carrier["baggage"])
	// Output:
	// local: Ada
	// sent: account.id=7
}

func ExampleNewSpanProcessor() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(baggagebridge.NewSpanProcessor(
			baggagebridge.WithKeyPrefixes("user."),
			baggagebridge.WithAttributePrefix("app."),
			baggagebridge.WithRedacted("user.email"),
		)),
		sdktrace.WithSpanProcessor(rec),
	)
	defer func() { _ = tp.Shutdown(context.Background()) }()

	ctx, _ := baggagebridge.Set(context.Background(), "user.id", "42")
	ctx, _ = baggagebridge.Set(ctx, "user.email", "ada@example.com")
	ctx, _ = baggagebridge.Set(ctx, "debug", "on")
	_, span := tp.Tracer("example").Start(ctx, "checkout")
	span.End()
	for _, kv := range rec.Ended()[0].Attributes() {
		fmt.Printf("%s=%s\n", kv.Key, kv.Value.Emit())
	}
	// Output:
	// app.user.email=REDACTED
	// app.user.id=42
}

func ExampleNewLogHandler() {
	logger := slog.New(baggagebridge.NewLogHandler(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})))

	ctx, _ := baggagebridge.Set(context.Background(), "user.id", "42")
	ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x0a, 15: 0x01},
		SpanID:  trace.SpanID{0x0b, 7: 0x02},
	}))
	logger.InfoContext(ctx, "paid", "amount", 12)
	// Output:
	// level=INFO msg=paid amount=12 trace_id=0a000000000000000000000000000001 span_id=0b00000000000002 user.id=42
}

func ExampleMiddleware() {
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	h := baggagebridge.Middleware(baggagebridge.WithPropagator(prop))(http.HandlerFunc(
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
