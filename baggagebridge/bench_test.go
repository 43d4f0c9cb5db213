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
	"testing"

	"go.opentelemetry.io/contrib/processors/baggagecopy"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

// benchBaggage returns a context with a 5-member baggage in a request's
// trace (a remote parent, as a server span's ctx has).
func benchBaggage(b *testing.B, salt int) context.Context {
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{byte(salt), byte(salt >> 8), 1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled,
	}))
	for i := range 5 {
		var err error
		ctx, err = baggagebridge.Set(ctx, fmt.Sprintf("key%d", i), fmt.Sprintf("value-%d-%d", i, salt))
		if err != nil {
			b.Fatal(err)
		}
	}
	return ctx
}

// spanStartProcessors are the configurations the BenchmarkSpanStart
// benchmarks compare: no processor, the stock baggagecopy processor copying
// every member, and this package's.
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
		b.Run(bc.name, func(b *testing.B) { benchSpanStart(b, bc.opts) })
	}
}

// BenchmarkSpanStartExported is BenchmarkSpanStart with, in every row, a
// processor standing for the exporting one, as in any deployed service: the
// SDK snapshots each ended span for it, so that cost no longer falls on the
// processor measured. The bridge row wraps it (WrapSpanProcessor), as a
// service with an exporter registers the bridge; bridge_onstart adds
// NewSpanProcessor beside it. The exporting processor only holds on to the
// span, as a batch processor's queue does: what the exporter pays to read
// the attributes is BenchmarkSpanStartExportedRead's.
func BenchmarkSpanStartExported(b *testing.B) {
	benchSpanStartExported(b, func() *exportingProcessor { return &exportingProcessor{} })
}

// BenchmarkSpanStartExportedRead is BenchmarkSpanStartExported with the
// exporting processor reading every span's attributes as it ends, as an
// exporter does on its own goroutine: the whole cost of a span, wherever
// it is paid.
func BenchmarkSpanStartExportedRead(b *testing.B) {
	benchSpanStartExported(b, func() *exportingProcessor { return &exportingProcessor{read: true} })
}

func benchSpanStartExported(b *testing.B, exporting func() *exportingProcessor) {
	for _, bc := range []struct {
		name string
		opts func(exp sdktrace.SpanProcessor) []sdktrace.TracerProviderOption
	}{
		{"plain", func(exp sdktrace.SpanProcessor) []sdktrace.TracerProviderOption {
			return []sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(exp)}
		}},
		{"baggagecopy", func(exp sdktrace.SpanProcessor) []sdktrace.TracerProviderOption {
			return []sdktrace.TracerProviderOption{
				sdktrace.WithSpanProcessor(baggagecopy.NewSpanProcessor(baggagecopy.AllowAllMembers)),
				sdktrace.WithSpanProcessor(exp),
			}
		}},
		{"bridge", func(exp sdktrace.SpanProcessor) []sdktrace.TracerProviderOption {
			return []sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(baggagebridge.WrapSpanProcessor(exp))}
		}},
		{"bridge_onstart", func(exp sdktrace.SpanProcessor) []sdktrace.TracerProviderOption {
			return []sdktrace.TracerProviderOption{
				sdktrace.WithSpanProcessor(baggagebridge.NewSpanProcessor()),
				sdktrace.WithSpanProcessor(exp),
			}
		}},
		{"floor_onstart", func(exp sdktrace.SpanProcessor) []sdktrace.TracerProviderOption {
			return []sdktrace.TracerProviderOption{
				sdktrace.WithSpanProcessor(constProcessor{benchAttrs}),
				sdktrace.WithSpanProcessor(exp),
			}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			exp := exporting()
			benchSpanStart(b, bc.opts(exp))
			if want := 5 * b.N; exp.read && bc.name != "plain" && exp.attrs != want {
				b.Fatalf("%d attributes exported for %d spans, want %d", exp.attrs, b.N, want)
			}
		})
	}
}

// exportingProcessor stands for a batch processor: it keeps the last
// batchSize spans ended, as its queue would, and, with read, reads their
// attributes as the exporter would.
type exportingProcessor struct {
	read  bool
	batch [batchSize]sdktrace.ReadOnlySpan
	n     int
	attrs int
}

const batchSize = 512

func (p *exportingProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	p.batch[p.n%batchSize] = s
	p.n++
	if p.read {
		p.attrs += len(s.Attributes())
	}
}
func (*exportingProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (*exportingProcessor) Shutdown(context.Context) error                  { return nil }
func (*exportingProcessor) ForceFlush(context.Context) error                { return nil }

func benchSpanStart(b *testing.B, opts []sdktrace.TracerProviderOption) {
	tp := sdktrace.NewTracerProvider(append(opts, sdktrace.WithSampler(sdktrace.AlwaysSample()))...)
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("bench")
	ctx := benchBaggage(b, 0)
	b.ReportAllocs()
	for b.Loop() {
		_, span := tracer.Start(ctx, "span")
		span.End()
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

// BenchmarkSet adds a fifth member to a baggage: stock is the OpenTelemetry
// API without the validation and limits Set adds.
func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	for i := range 4 {
		ctx = withValues(b, ctx, fmt.Sprintf("key%d", i), fmt.Sprintf("value-%d", i))
	}
	b.Run("stock", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := baggage.NewMemberRaw("user.id", "42")
			if err != nil {
				b.Fatal(err)
			}
			bag, err := baggage.FromContext(ctx).SetMember(m)
			if err != nil {
				b.Fatal(err)
			}
			_ = baggage.ContextWithBaggage(ctx, bag)
		}
	})
	b.Run("bridge", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := baggagebridge.Set(ctx, "user.id", "42"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGet reads a member of a 5-member baggage from a ctx, with the
// stock API and with Get, and ambiently with Current.
func BenchmarkGet(b *testing.B) {
	ctx := benchBaggage(b, 0)
	b.Run("stock", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if baggage.FromContext(ctx).Member("key3").Value() == "" {
				b.Fatal("missing")
			}
		}
	})
	b.Run("bridge", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := baggagebridge.Get(ctx, "key3"); !ok {
				b.Fatal("missing")
			}
		}
	})
	b.Run("bridge_current", func(b *testing.B) {
		asynctrack.Run(ctx, func(context.Context) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := baggagebridge.Current("key3"); !ok {
					b.Fatal("missing")
				}
			}
		})
	})
}

// BenchmarkMiddleware serves a request with a 5-member baggage header
// through a handler that reads one value: plain reads nothing, extract is
// the stock W3C extraction into the request, bridge is Middleware.
func BenchmarkMiddleware(b *testing.B) {
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	req.Header.Set("baggage", "key0=value-0,key1=value-1,key2=value-2,key3=value-3,key4=value-4")
	read := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := baggagebridge.Get(r.Context(), "key3"); !ok {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"plain", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})},
		{"extract", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			read.ServeHTTP(w, r.WithContext(prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))))
		})},
		{"bridge", baggagebridge.Middleware(baggagebridge.WithPropagators(prop))(read)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, req)
			}
			if w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		})
	}
}

// BenchmarkLogHandler logs a record with a ctx holding a span and a
// 5-member baggage, to a JSON handler alone and wrapped.
func BenchmarkLogHandler(b *testing.B) {
	ctx := trace.ContextWithSpanContext(benchBaggage(b, 0), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled,
	}))
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"plain", slog.NewJSONHandler(io.Discard, nil)},
		{"bridge", baggagebridge.NewLogHandler(slog.NewJSONHandler(io.Discard, nil))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			logger := slog.New(bc.h)
			b.ReportAllocs()
			for b.Loop() {
				logger.InfoContext(ctx, "message", "n", 1)
			}
		})
	}
}

// BenchmarkSpanStartFloor measures what the SDK charges any span processor
// beside BenchmarkSpanStart's rows: a processor that does nothing (the SDK
// then snapshots every span at End), and one that sets the same 5
// attributes on every span without looking at the baggage (the SDK then
// stores them). No processor that copies 5 values can cost less than the
// second.
func BenchmarkSpanStartFloor(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    sdktrace.SpanProcessor
	}{{"noop", constProcessor{}}, {"const_attributes", constProcessor{benchAttrs}}} {
		b.Run(bc.name, func(b *testing.B) {
			benchSpanStart(b, []sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(bc.p)})
		})
	}
}

// benchAttrs are the attributes benchBaggage(b, 0) makes.
var benchAttrs = []attribute.KeyValue{
	attribute.String("key0", "value-0-0"), attribute.String("key1", "value-1-0"),
	attribute.String("key2", "value-2-0"), attribute.String("key3", "value-3-0"),
	attribute.String("key4", "value-4-0"),
}

// constProcessor sets attrs on every span.
type constProcessor struct{ attrs []attribute.KeyValue }

func (p constProcessor) OnStart(_ context.Context, s sdktrace.ReadWriteSpan) {
	if len(p.attrs) > 0 {
		s.SetAttributes(p.attrs...)
	}
}
func (constProcessor) OnEnd(sdktrace.ReadOnlySpan)      {}
func (constProcessor) Shutdown(context.Context) error   { return nil }
func (constProcessor) ForceFlush(context.Context) error { return nil }

// discardExporter drops the records, as the exporter of a benchmark.
type discardExporter struct{}

func (discardExporter) Export(context.Context, []sdklog.Record) error { return nil }
func (discardExporter) Shutdown(context.Context) error                { return nil }
func (discardExporter) ForceFlush(context.Context) error              { return nil }

// BenchmarkLogProcessor emits a log record under a 5-member baggage through
// the Logs SDK: with no processor but the exporting one, with
// baggagecopy's copying every member, and with this package's.
func BenchmarkLogProcessor(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    sdklog.Processor
	}{
		{"plain", nil},
		{"baggagecopy", baggagecopy.NewLogProcessor(baggagecopy.AllowAllMembers)},
		{"bridge", baggagebridge.NewLogProcessor()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var opts []sdklog.LoggerProviderOption
			if bc.p != nil {
				opts = append(opts, sdklog.WithProcessor(bc.p))
			}
			opts = append(opts, sdklog.WithProcessor(sdklog.NewSimpleProcessor(discardExporter{})))
			lp := sdklog.NewLoggerProvider(opts...)
			defer func() { _ = lp.Shutdown(context.Background()) }()
			logger := lp.Logger("bench")
			ctx := benchBaggage(b, 0)
			var r otellog.Record
			r.SetBody(attribute.StringValue("request handled"))
			b.ReportAllocs()
			for b.Loop() {
				logger.Emit(ctx, r)
			}
		})
	}
}
