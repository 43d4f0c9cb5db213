// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"net/http"

	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/internal/ambientotel"
)

// adoptAmbient returns r as NewTransport sends it when r's ctx carries no
// OpenTelemetry context and no asynctrack frame and the program opted in
// (baggagebridge.AmbientTracerProvider): with the span and baggage of the
// calling goroutine's ambient scope in its ctx, and that span's trace
// context written if r has none. Otherwise it returns r.
func adoptAmbient(r *http.Request) *http.Request {
	ctx := r.Context()
	adopted := ambientotel.Adopt(ctx)
	if adopted == ctx {
		return r
	}
	out := r.WithContext(adopted)
	if !hasHeader(r.Header, traceparentCanon) {
		out.Header = r.Header.Clone()
		if out.Header == nil {
			out.Header = http.Header{}
		}
		propagation.TraceContext{}.Inject(adopted, propagation.HeaderCarrier(out.Header))
	}
	return out
}
