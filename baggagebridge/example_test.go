// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

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

func ExampleWrapSpanProcessor() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(
		baggagebridge.WrapSpanProcessor(sdktrace.NewBatchSpanProcessor(exp), baggagebridge.WithKeys("user.id")),
	))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	ctx, _ := baggagebridge.Set(context.Background(), "user.id", "42")
	_, span := tp.Tracer("example").Start(ctx, "checkout")
	span.End()
	_ = tp.ForceFlush(context.Background())
	for _, kv := range exp.GetSpans()[0].Attributes {
		fmt.Printf("%s=%s\n", kv.Key, kv.Value.Emit())
	}
	// Output:
	// user.id=42
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
