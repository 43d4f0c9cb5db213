// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxzap_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/otelctxzap"
)

// BenchmarkCore prices an entry through the wrapper against the same entry
// through the same logger without it (zap), in one run: JSON to io.Discard,
// two fields of the entry's own, under a span and a baggage of three
// members, two of them selected; with zap.NewProduction's logger (the
// caller annotated) and with a bare one. zap_same_fields writes the fields
// the wrapper adds, computed beforehand: the floor of any way to write
// them; zap_by_hand is the glue a user writes without the wrapper.
func BenchmarkCore(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	defer func() { require.NoError(b, tp.Shutdown(context.Background())) }()
	ctx := withValues(b, context.Background(), "user.id", "u-1234", "tenant.id", "acme", "session", "s")
	ctx, span := tp.Tracer("bench").Start(ctx, "request")
	defer span.End()
	sc := span.SpanContext()
	tid, sid := sc.TraceID().String(), sc.SpanID().String()
	next := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.InfoLevel)
	const msg = "request handled"

	for _, setup := range []struct {
		name string
		opts []zap.Option
	}{{"production", []zap.Option{zap.AddCaller()}}, {"bare", nil}} {
		plain := zap.New(next, setup.opts...)
		wrapped := zap.New(otelctxzap.NewCore(next, baggagebridge.WithKeys("user.id", "tenant.id")), setup.opts...)
		b.Run(setup.name+"/zap", func(b *testing.B) {
			loop(b, func() { plain.Info(msg, zap.String("path", "/users/42"), zap.Int("status", 200)) })
		})
		b.Run(setup.name+"/zap_same_fields", func(b *testing.B) {
			loop(b, func() {
				plain.Info(msg, zap.String("path", "/users/42"), zap.Int("status", 200), zap.String("trace_id", tid),
					zap.String("span_id", sid), zap.String("tenant.id", "acme"), zap.String("user.id", "u-1234"))
			})
		})
		b.Run(setup.name+"/zap_by_hand", func(b *testing.B) {
			loop(b, func() {
				sc := trace.SpanContextFromContext(ctx)
				bag := baggage.FromContext(ctx)
				plain.Info(msg, zap.String("path", "/users/42"), zap.Int("status", 200),
					zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String()),
					zap.String("tenant.id", bag.Member("tenant.id").Value()), zap.String("user.id", bag.Member("user.id").Value()))
			})
		})
		b.Run(setup.name+"/otelctxzap_ctx", func(b *testing.B) {
			loop(b, func() {
				wrapped.Info(msg, zap.String("path", "/users/42"), zap.Int("status", 200), zap.Any("ctx", ctx))
			})
		})
		b.Run(setup.name+"/otelctxzap_ambient", func(b *testing.B) {
			asynctrack.Run(ctx, func(context.Context) {
				loop(b, func() { wrapped.Info(msg, zap.String("path", "/users/42"), zap.Int("status", 200)) })
			})
		})
		b.Run(setup.name+"/otelctxzap_nothing", func(b *testing.B) {
			loop(b, func() { wrapped.Info(msg, zap.String("path", "/users/42"), zap.Int("status", 200)) })
		})
	}
}

// loop runs f b.N times, and reports its allocations and the process's CPU
// time per call (cpu-ns/op), which the other programs of a busy machine
// disturb less than the wall-clock time.
func loop(b *testing.B, f func()) {
	b.ReportAllocs()
	cpu0, ok := processCPU()
	for b.Loop() {
		f()
	}
	if cpu1, ok1 := processCPU(); ok && ok1 {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
