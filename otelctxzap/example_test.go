// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

//go:build !otelctx_nolinkname

// The example logs without a ctx, which builds with the otelctx_nolinkname
// tag do not support.

package otelctxzap_test

import (
	"context"
	"os"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/otelctxzap"
)

func ExampleNewCore() {
	// The core you have (here JSON to stdout, without time), wrapped.
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zapcore.EncoderConfig{MessageKey: "msg"}),
		zapcore.AddSync(os.Stdout), zapcore.InfoLevel)
	logger := zap.New(otelctxzap.NewCore(core, baggagebridge.WithKeys("user.id")))

	// A request's ctx, as otelhttp and baggagebridge.Middleware make it.
	user, _ := baggage.NewMemberRaw("user.id", "42")
	bag, _ := baggage.New(user)
	ctx := baggage.ContextWithBaggage(context.Background(), bag)
	ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	}))

	logger.Info("with the ctx", zap.Any("ctx", ctx))
	asynctrack.Run(ctx, func(context.Context) {
		logger.Info("without it, in the request's work")
	})
	logger.Info("outside every request")
	// Output:
	// {"msg":"with the ctx","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","user.id":"42"}
	// {"msg":"without it, in the request's work","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","user.id":"42"}
	// {"msg":"outside every request"}
}
