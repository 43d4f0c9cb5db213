// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"context"

	"go.opentelemetry.io/otel/baggage"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"
)

// LogProcessor is an OpenTelemetry Logs SDK processor that adds the
// selected baggage values to every log record, chosen and shown as for
// spans (see SpanProcessor; the same options, redaction and hashing
// included). It is the counterpart of baggagecopy.NewLogProcessor.
//
// The values and the trace context come from one source: the record's
// context if it carries a span, a baggage or an asynctrack frame (or the
// record a trace context of its own), else asynctrack.Ambient(), whose
// span's IDs the record then gets too. A record emitted without a ctx inside
// a request's work carries the request's values and IDs; one emitted with
// another request's ctx, that request's and nothing of the ambient one.
//
// Register it before the exporting processor, whose records it then
// enriches: sdklog.WithProcessor(baggagebridge.NewLogProcessor(...)),
// sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)).
type LogProcessor struct {
	e *enricher
}

var _ sdklog.Processor = (*LogProcessor)(nil)

// NewLogProcessor returns a LogProcessor configured by opts.
func NewLogProcessor(opts ...Option) *LogProcessor {
	return &LogProcessor{e: newEnricher(newConfig(opts...), false)}
}

// Enabled reports true: the processor drops nothing.
func (*LogProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }

// OnEmit adds the selected values of the record's baggage to r.
func (p *LogProcessor) OnEmit(ctx context.Context, r *sdklog.Record) error {
	switch {
	case !r.TraceID().IsValid():
		ctx = source(ctx)
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r.SetTraceID(sc.TraceID())
			r.SetSpanID(sc.SpanID())
			r.SetTraceFlags(sc.TraceFlags())
		}
	case ctx == nil:
		// The trace context was set on the record: that is its source.
		ctx = context.Background()
	}
	bag := baggage.FromContext(ctx)
	if en := p.e.get(bag, r.TraceID()); en != nil && len(en.attrs) > 0 {
		r.AddAttributes(en.attrs...)
	}
	return nil
}

// Shutdown does nothing.
func (*LogProcessor) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (*LogProcessor) ForceFlush(context.Context) error { return nil }
