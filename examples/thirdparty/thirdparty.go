// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package thirdparty stands for a library that dropped its caller's ctx, as
// many do: it records an audit event on a goroutine of its own, with a span
// started from context.Background(). With the TracerProvider that
// baggagebridge.AmbientTracerProvider returns, that span still joins the
// trace of the request it was called in, under the request's span.
package thirdparty

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

// SpanName is the name of the span Audit starts.
const SpanName = "thirdparty.audit"

// Audit records event under a span of tp, from a goroutine of its own and
// with no ctx, and returns when it is recorded.
func Audit(tp trace.TracerProvider, event string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, span := tp.Tracer("github.com/otelctx/otelctx/examples/thirdparty").Start(context.Background(), SpanName)
		span.AddEvent(event)
		span.End()
	}()
	<-done
}
