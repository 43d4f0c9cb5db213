// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"context"

	"go.opentelemetry.io/otel/baggage"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
)

// LogProcessor is an OpenTelemetry Logs SDK processor that adds the
// selected baggage values to every log record, chosen and shown as for
// spans (see SpanProcessor; the same options, redaction and hashing
// included). It is the counterpart of baggagecopy.NewLogProcessor.
//
// The values come from the record's context and, when it carries no
// baggage, from asynctrack.Ambient(): a record emitted without a ctx inside
// a request's work still carries the request's values, and, if the record
// has no trace context of its own, the ambient span's IDs.
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
	if ctx == nil {
		ctx = context.Background()
	}
	bag := baggage.FromContext(ctx)
	if bag.Len() == 0 || !r.TraceID().IsValid() {
		if amb := asynctrack.Ambient(); amb != ctx {
			if bag.Len() == 0 {
				bag = baggage.FromContext(amb)
			}
			if !r.TraceID().IsValid() {
				if sc := trace.SpanContextFromContext(amb); sc.IsValid() {
					r.SetTraceID(sc.TraceID())
					r.SetSpanID(sc.SpanID())
					r.SetTraceFlags(sc.TraceFlags())
				}
			}
		}
	}
	if en := p.e.get(bag, r.TraceID()); en != nil && len(en.attrs) > 0 {
		r.AddAttributes(en.attrs...)
	}
	return nil
}

// Shutdown does nothing.
func (*LogProcessor) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (*LogProcessor) ForceFlush(context.Context) error { return nil }
