// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

// BenchmarkAmbientSpanStart prices AmbientTracerProvider: a child span
// started with its parent's ctx through the SDK alone (the baseline) and
// through the wrapper, and a span whose parent comes from the ambient scope.
func BenchmarkAmbientSpanStart(b *testing.B) {
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer func() { _ = sdk.Shutdown(context.Background()) }()
	wrapped := baggagebridge.AmbientTracerProvider(sdk)
	ctx := withValues(b, context.Background(), "user.id", "alice")
	ctx, parent := sdk.Tracer("bench").Start(ctx, "request")
	defer parent.End()

	start := func(b *testing.B, tp trace.TracerProvider, ctx context.Context) {
		tracer := tp.Tracer("bench")
		b.ReportAllocs()
		for b.Loop() {
			_, s := tracer.Start(ctx, "child")
			s.End()
		}
	}
	asynctrack.Run(ctx, func(ctx context.Context) {
		b.Run("parent_ctx/sdk", func(b *testing.B) { start(b, sdk, ctx) })
		b.Run("parent_ctx/ambient_provider", func(b *testing.B) { start(b, wrapped, ctx) })
		b.Run("no_ctx/ambient_provider", func(b *testing.B) { start(b, wrapped, context.Background()) })
	})
}
