// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package otelctxzap adds a request's values and the IDs of its span to the
// entries of a zap logger, as baggagebridge.LogHandler does to slog's
// records, from the ctx an entry is logged with or, without one, from the
// asynctrack scope the code runs in.
//
// It is a module of its own, github.com/otelctx/otelctx/otelctxzap, so that
// a program without zap never builds it.
//
// A zap logger that hands its entries to OpenTelemetry's Logs SDK through
// go.opentelemetry.io/contrib/bridges/otelzap needs no wrapper: register
// baggagebridge.NewLogProcessor in the LoggerProvider, which adds the same
// values and the IDs to the records, with or without a ctx.
package otelctxzap

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/internal/logattr"
)

// NewCore returns a zapcore.Core that adds to every entry next writes what
// baggagebridge.LogHandler adds to a slog record: the IDs of the span,
// under "trace_id" and "span_id", and the baggage values selected, named,
// redacted and hashed by opts as for spans (WithKeys, WithKeyPrefixes,
// WithAttributePrefix, WithRedacted, WithHashed, WithMaxAttributes). They follow the
// entry's own fields, so inside any zap.Namespace the entry opened.
//
// The span and the values come from one source. An entry may be given a
// context.Context as a field of any key, zap.Any("ctx", ctx), as
// go.opentelemetry.io/contrib/bridges/otelzap takes it: in the entry itself
// or earlier through Logger.With (the entry's wins; the field itself is
// never written). That ctx is the source if it carries a span, a baggage or
// an asynctrack frame; otherwise, and for an entry without one, the source
// is asynctrack.Ambient() when the entry is written. So a plain
// logger.Info inside a request's work carries the request's IDs and values,
// and an entry logged with another request's ctx carries that request's,
// and nothing of the ambient one.
//
// next keeps every decision it makes without the wrapper: which entries it
// writes (its Check: levels, sampling, each core of a zapcore.NewTee), its
// fields (With; a With of a context alone leaves next as it is), and Sync.
// Its Write must not keep the fields slice it is given once it returns, as
// zap's own callers reuse theirs: the wrapper reuses it for later entries.
//
// Wrap the cores that write lines. Given otelzap's core itself as next, the
// wrapper adds the values, not the IDs, and hands the entry's source to
// otelzap as its context field, from which the Logs SDK takes the record's
// trace context: the IDs once, as the record's own, never another
// request's. In a zapcore.NewTee, wrap the other cores and leave otelzap's
// beside them: it reads the entry's context field itself.
func NewCore(next zapcore.Core, opts ...baggagebridge.Option) zapcore.Core {
	return &core{next: next, h: baggagebridge.NewLogHandler(slog.DiscardHandler, opts...), otelzap: isOtelzap(next)}
}

type core struct {
	next zapcore.Core
	// h selects the values and keeps them computed per baggage; its next
	// handler is never called.
	h *baggagebridge.LogHandler
	// ctx is the last context given to With, nil for none.
	ctx context.Context
	// otelzap is true when next is otelzap's core, which takes the span
	// from the entry's context field.
	otelzap bool
}

// isOtelzap reports whether c is contrib's otelzap core, which hands
// entries to the OpenTelemetry Logs SDK with the context of their context
// field.
func isOtelzap(c zapcore.Core) bool {
	t := reflect.TypeOf(c)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "go.opentelemetry.io/contrib/bridges/otelzap"
}

// Enabled reports whether next is enabled at level l.
func (c *core) Enabled(l zapcore.Level) bool { return c.next.Enabled(l) }

// Level reports next's minimum level (zapcore.LevelOf).
func (c *core) Level() zapcore.Level { return zapcore.LevelOf(c.next) }

// Sync syncs next.
func (c *core) Sync() error { return c.next.Sync() }

// With returns a core whose next has fields, less any context.Context
// field; the last such field is the context of the entries written through
// the core returned.
func (c *core) With(fields []zapcore.Field) zapcore.Core {
	ctx, n := lastContext(fields)
	if ctx == nil {
		ctx = c.ctx
	}
	next := c.next
	if len(fields) > n {
		next = next.With(withoutContexts(fields, n))
	}
	return &core{next: next, h: c.h, ctx: ctx, otelzap: c.otelzap}
}

// Check asks next whether, and by which of its cores, ent is written; if at
// all, the entry is written through c, which enriches it first.
func (c *core) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	inner := c.next.Check(ent, nil)
	if inner == nil {
		return ce
	}
	e := checkedPool.Get().(*checked)
	e.core, e.inner = c, inner
	return ce.AddCore(ent, e)
}

// Write writes the entry, enriched, to next.
func (c *core) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	all, buf := c.enrich(fields)
	err := c.next.Write(ent, all)
	putFields(buf, all)
	return err
}

// enrich returns fields without their context.Context fields, followed by
// the span's IDs and the selected values of the entry's source: fields
// itself when there is nothing to remove or add, else a slice of
// fieldsPool, and then buf, which putFields puts back.
func (c *core) enrich(fields []zapcore.Field) (all []zapcore.Field, buf *[]zapcore.Field) {
	ctx, n := lastContext(fields)
	if ctx == nil {
		ctx = c.ctx
	}
	src, values := c.h.Source(ctx)
	sc := trace.SpanContextFromContext(src)
	if n == 0 && !sc.IsValid() && len(values) == 0 {
		return fields, nil
	}
	buf = fieldsPool.Get().(*[]zapcore.Field)
	all = (*buf)[:0]
	for _, f := range fields {
		if _, ok := f.Interface.(context.Context); !ok {
			all = append(all, f)
		}
	}
	if c.otelzap {
		// otelzap takes the span, as the record's own, from the
		// source, which it must see rather than its context.
		all = append(all, zap.Any("context", src))
	} else if sc.IsValid() {
		// One string for both IDs: one allocation instead of two.
		var b [2*len(trace.TraceID{}) + 2*len(trace.SpanID{})]byte
		tid, sid := sc.TraceID(), sc.SpanID()
		hex.Encode(b[:2*len(tid)], tid[:])
		hex.Encode(b[2*len(tid):], sid[:])
		ids := string(b[:])
		all = append(all, zap.String(logattr.TraceID, ids[:2*len(tid)]),
			zap.String(logattr.SpanID, ids[2*len(tid):]))
	}
	for _, a := range values {
		all = append(all, zap.String(a.Key, a.Value.String()))
	}
	return all, buf
}

// lastContext returns the last context.Context among fields' values, and
// how many there are.
func lastContext(fields []zapcore.Field) (ctx context.Context, n int) {
	for i := range fields {
		if c, ok := fields[i].Interface.(context.Context); ok {
			ctx, n = c, n+1
		}
	}
	return ctx, n
}

// withoutContexts returns fields less their n context.Context fields:
// fields itself when n is 0, never fields' array otherwise.
func withoutContexts(fields []zapcore.Field, n int) []zapcore.Field {
	if n == 0 {
		return fields
	}
	out := make([]zapcore.Field, 0, len(fields)-n)
	for _, f := range fields {
		if _, ok := f.Interface.(context.Context); !ok {
			out = append(out, f)
		}
	}
	return out
}

// The fields an entry is written with are built in a slice of fieldsPool:
// a core's Write must not keep them, since zap's own callers reuse theirs.
// A slice that grew past maxPooledFields is left to the collector.
var fieldsPool = sync.Pool{New: func() any { s := make([]zapcore.Field, 0, 16); return &s }}

const maxPooledFields = 64

func putFields(buf *[]zapcore.Field, used []zapcore.Field) {
	if buf == nil || cap(used) > maxPooledFields {
		return
	}
	clear(used) // keep no entry's values alive
	*buf = used[:0]
	fieldsPool.Put(buf)
}

// checked is the core a CheckedEntry writes one entry through: it enriches
// the entry's fields and writes them to the cores next's Check chose. A
// CheckedEntry writes each of its cores once, after which the checked goes
// back to checkedPool.
type checked struct {
	*core
	inner *zapcore.CheckedEntry
	errs  errorOutput
}

var checkedPool = sync.Pool{New: func() any { return new(checked) }}

// Write writes ent, as the logger's hooks left it, and fields, enriched, to
// the cores next's Check chose, and returns their error.
func (e *checked) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	all, buf := e.enrich(fields)
	e.inner.Entry = ent
	e.inner.ErrorOutput = &e.errs
	e.inner.Write(all...)
	putFields(buf, all)
	err := e.errs.err
	*e = checked{}
	checkedPool.Put(e)
	return err
}

// errorOutput keeps what a CheckedEntry reports of its cores' write errors,
// for the logger's own ErrorOutput to report.
type errorOutput struct{ err error }

func (o *errorOutput) Write(p []byte) (int, error) {
	o.err = errors.Join(o.err, errors.New(strings.TrimSpace(string(p))))
	return len(p), nil
}

func (*errorOutput) Sync() error { return nil }
