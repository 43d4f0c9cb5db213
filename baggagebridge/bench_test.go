package baggagebridge_test

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/contrib/processors/baggagecopy"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelctx/otelctx/baggagebridge"
)

// benchBaggage returns a context with a 5-member baggage.
func benchBaggage(b *testing.B, salt int) context.Context {
	ctx := context.Background()
	for i := range 5 {
		var err error
		ctx, err = baggagebridge.Set(ctx, fmt.Sprintf("key%d", i), fmt.Sprintf("value-%d-%d", i, salt))
		if err != nil {
			b.Fatal(err)
		}
	}
	return ctx
}

// spanStartProcessors are the configurations BenchmarkSpanStart and
// BenchmarkSpanStartDistinctBaggage compare: no processor, the stock
// baggagecopy processor copying every member, and this package's.
var spanStartProcessors = []struct {
	name string
	opts []sdktrace.TracerProviderOption
}{
	{"plain", nil},
	{"baggagecopy", []sdktrace.TracerProviderOption{
		sdktrace.WithSpanProcessor(baggagecopy.NewSpanProcessor(baggagecopy.AllowAllMembers)),
	}},
	{"bridge", []sdktrace.TracerProviderOption{
		sdktrace.WithSpanProcessor(baggagebridge.NewSpanProcessor()),
	}},
}

// BenchmarkSpanStart starts and ends a span under a 5-member baggage, as
// every span of a request does.
func BenchmarkSpanStart(b *testing.B) {
	for _, bc := range spanStartProcessors {
		b.Run(bc.name, func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(append(bc.opts, sdktrace.WithSampler(sdktrace.AlwaysSample()))...)
			defer func() { _ = tp.Shutdown(context.Background()) }()
			tracer := tp.Tracer("bench")
			ctx := benchBaggage(b, 0)
			b.ReportAllocs()
			for b.Loop() {
				_, span := tracer.Start(ctx, "span")
				span.End()
			}
		})
	}
}

// BenchmarkSpanStartDistinctBaggage starts each span under a baggage of its
// own, as the first span of every request does: the bridge's cache misses
// every time, so this is its worst case.
func BenchmarkSpanStartDistinctBaggage(b *testing.B) {
	const distinct = 1024
	ctxs := make([]context.Context, distinct)
	for i := range ctxs {
		ctxs[i] = benchBaggage(b, i)
	}
	for _, bc := range spanStartProcessors {
		b.Run(bc.name, func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(append(bc.opts, sdktrace.WithSampler(sdktrace.AlwaysSample()))...)
			defer func() { _ = tp.Shutdown(context.Background()) }()
			tracer := tp.Tracer("bench")
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				// A fresh map per span, as extraction makes per request.
				bag := baggage.FromContext(ctxs[i%distinct])
				ctx := baggage.ContextWithBaggage(context.Background(), bag.DeleteMember("none"))
				_, span := tracer.Start(ctx, "span")
				span.End()
				i++
			}
		})
	}
}
