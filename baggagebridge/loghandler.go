// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"reflect"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys of the span a record was logged under.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// LogHandler is a slog.Handler that adds to every record the IDs of the
// current span, under TraceIDKey and SpanIDKey (unless the next handler is
// otelslog's, which records them itself), and the selected baggage
// values, chosen and shown as for spans (see SpanProcessor), then passes it
// on. They are added as the record's own attributes are, so inside any
// group opened with WithGroup.
//
// The span and the baggage come from one source: the context the record is
// logged with (slog.InfoContext and the like) if it carries a span, a
// baggage or an asynctrack frame, else asynctrack.Ambient(), which next then
// receives too. A plain slog.Info inside a request's work carries the
// request's IDs and values; a record logged with another request's ctx
// carries that request's, and nothing of the ambient one.
//
// A LogHandler is safe for concurrent use; those returned by its WithAttrs
// and WithGroup share its cache of computed values.
type LogHandler struct {
	next slog.Handler
	e    *enricher
	// ids is false when next records the span's IDs itself (otelslog: the
	// Logs SDK takes them from the ctx), so they are not added twice.
	ids bool
}

var _ slog.Handler = (*LogHandler)(nil)

// NewLogHandler returns a LogHandler that passes records to next.
//
// next must not write through the log package's default logger while the
// LogHandler is slog's default: slog.SetDefault routes that logger back to
// the default handler, and the two would call each other. The one handler
// that does so, slog's own initial default (slog.Default().Handler() before
// any SetDefault), is replaced by a text handler on the log package's
// current output, and the replacement is reported through otel.Handle.
func NewLogHandler(next slog.Handler, opts ...Option) *LogHandler {
	if isInitialDefault(next) {
		otel.Handle(errors.New("baggagebridge: NewLogHandler was given slog's initial default handler, " +
			"which writes through the log package and would loop once made the default; " +
			"writing text to the log package's output instead"))
		next = slog.NewTextHandler(log.Writer(), nil)
	}
	return &LogHandler{next: next, e: newEnricher(newConfig(opts...), true), ids: !recordsSpanIDs(next)}
}

// recordsSpanIDs reports whether h is one that records the trace and span
// IDs of the ctx it is given: otelslog's, which hands records to the
// OpenTelemetry Logs SDK.
func recordsSpanIDs(h slog.Handler) bool {
	t := reflect.TypeOf(h)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "go.opentelemetry.io/contrib/bridges/otelslog"
}

// isInitialDefault reports whether h is slog's own initial default handler.
func isInitialDefault(h slog.Handler) bool {
	t := reflect.TypeOf(h)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "log/slog" && t.Elem().Name() == "defaultHandler"
}

// Enabled reports whether next handles records of level l.
func (h *LogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle adds the span IDs and selected values to a copy of r and passes it
// to next.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	ctx = source(ctx)
	sc := trace.SpanContextFromContext(ctx)
	bag := baggage.FromContext(ctx)
	en := h.e.get(bag, sc.TraceID())
	if (!sc.IsValid() || !h.ids) && (en == nil || len(en.logs) == 0) {
		return h.next.Handle(ctx, r)
	}
	r = r.Clone()
	if sc.IsValid() && h.ids {
		r.AddAttrs(slog.String(TraceIDKey, sc.TraceID().String()), slog.String(SpanIDKey, sc.SpanID().String()))
	}
	if en != nil {
		r.AddAttrs(en.logs...)
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a LogHandler whose next handler has attrs.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &LogHandler{next: h.next.WithAttrs(attrs), e: h.e, ids: h.ids}
}

// WithGroup returns a LogHandler whose next handler has the group name.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{next: h.next.WithGroup(name), e: h.e, ids: h.ids}
}
