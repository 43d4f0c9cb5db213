// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/internal/reqinfo"
	"github.com/otelctx/otelctx/internal/scopehook"
)

// ScopeName is the instrumentation scope of the Exporter's tracer and meter.
const ScopeName = "github.com/otelctx/otelctx/exporter"

// Attribute keys of async-resource spans.
const (
	// IDKey is the resource's ID, as asynctrack.ExecutionID returns it.
	IDKey = attribute.Key("async.id")
	// TriggerIDKey is the ID of the execution that created the resource, 0
	// if none.
	TriggerIDKey = attribute.Key("async.trigger_id")
	// TypeKey is the resource's type, such as "goroutine". The metrics
	// carry it too.
	TypeKey = attribute.Key("async.type")
	// NameKey is the resource's readable name (asynctrack.ResourceName of
	// its value): for a goroutine, task or timer, the function it runs.
	NameKey = attribute.Key("async.name")
	// ProcessKey identifies the process the IDs belong to: a random value
	// drawn when the process starts, so that async.id=2 of two services, or
	// of two runs of one, never read as one resource.
	ProcessKey = attribute.Key("async.process.id")
	// unfinishedKey marks a span that Shutdown ended while its resource was
	// still live.
	unfinishedKey = attribute.Key("async.unfinished")
)

// Span event names.
const (
	eventBefore = "async.before"
	eventAfter  = "async.after"
)

// Exporter turns the lifecycle of asynctrack resources into OpenTelemetry
// spans and metrics and serves a view of the live resources. It listens from
// New until Shutdown. It is safe for concurrent use.
type Exporter struct {
	// registry is the one hook and the one map of live resources: each
	// record carries the Exporter's state of its resource.
	registry *asynctrack.Registry
	tracer   trace.Tracer
	types    *typeTable
	// jaegerURL is the base of the HTML view's trace links, "" for none.
	jaegerURL string
	budget    *budget
	lifetime  metric.Float64Histogram
	metrics   metric.Registration // nil if the callback was not registered

	// ended remembers the last requests that ended, reads the goroutine
	// profile for the view, and stopWatch stops asynctrack remembering
	// closed scopes for it.
	ended     ended
	reads     profileReads
	stopWatch func()

	// spanned counts the live resources that have a span. While it is zero,
	// Before and After do nothing more than the registry's lookup.
	spanned atomic.Int64

	shards [shards]shard

	isShutdown atomic.Bool
	// shutdownCtx is Shutdown's ctx while it drops the live resources;
	// spansLost is set when its end came before every span was ended.
	shutdownCtx context.Context
	spansLost   atomic.Bool
}

const shards = 64

// shard holds the lifetimes of destroyed resources whose ID falls into it,
// waiting to be recorded.
type shard struct {
	mu sync.Mutex
	// done collects lifetimes until lifetimeBatch of them are recorded at
	// once, or a collection or Shutdown records them. spare is the other
	// buffer, nil while its batch is being recorded.
	done, spare []lifetime
	_           [72]byte // 128 bytes: neighbouring IDs are busy on other cores
}

// lifetimeBatch is how many lifetimes a shard collects before recording
// them. Recording one is cheap, but it is a deep call into the SDK that makes
// the small stack of a fresh goroutine grow, which costs several times the
// whole hook; batching pays for that once per batch.
const lifetimeBatch = 32

// lifetime is a destroyed resource's lifetime, to be recorded.
type lifetime struct {
	stats   *typeStats
	seconds float64
}

// state is what the Exporter keeps per live resource, in the registry's
// record. It does not change once Init returns it.
type state struct {
	stats  *typeStats
	trace  trace.TraceID // of the span current at Init; zero if none
	spanID trace.SpanID  // that span's ID
	span   trace.Span    // the resource's own span, nil if none
	// desc describes a request (its resource value), nil for another
	// resource.
	desc reqinfo.Describer
}

// New returns an Exporter configured by opts that listens to every resource
// created from now on, until Shutdown. Errors creating its metric instruments
// are reported through otel.Handle, and the Exporter works on without the
// instruments that failed.
func New(opts ...Option) *Exporter {
	c := newConfig(opts...)
	e := &Exporter{
		tracer:    c.tracerProvider.Tracer(ScopeName),
		jaegerURL: c.jaegerURL,
		types:     newTypeTable(c.spanTypes),
		budget:    newBudget(c.maxSpansPerTrace),
	}
	for i := range e.shards {
		s := &e.shards[i]
		s.done = make([]lifetime, 0, lifetimeBatch)
		s.spare = make([]lifetime, 0, lifetimeBatch)
	}
	e.lifetime, e.metrics = newInstruments(c.meterProvider, e.types, e.recordLifetimes)
	funcs := asynctrack.RegistryFuncs{Init: e.init, Destroy: e.destroy, Drop: e.drop}
	if len(c.spanTypes) > 0 {
		// Without span types nothing needs Before and After.
		funcs.Before, funcs.After, funcs.Context = e.before, e.after, e.spanContext
	}
	e.stopWatch = scopehook.Watch()
	e.registry = asynctrack.NewRegistry(funcs).Enable()
	return e
}

func (e *Exporter) shard(id uint64) *shard { return &e.shards[id%shards] }

func (e *Exporter) init(ctx context.Context, r asynctrack.LiveResource) any {
	ts := e.types.get(r.Type)
	ts.created.Add(1)
	sc := trace.SpanContextFromContext(ctx)
	st := &state{stats: ts, trace: sc.TraceID(), spanID: sc.SpanID()}
	st.desc, _ = r.Value.(reqinfo.Describer)
	if ts.spans && sc.IsSampled() {
		if e.budget.take(sc.TraceID()) {
			name := ts.name
			if r.Name != "" {
				name += " " + r.Name
			}
			_, st.span = e.tracer.Start(ctx, name,
				trace.WithTimestamp(r.Created),
				trace.WithAttributes(IDKey.Int64(int64(r.ID)), TriggerIDKey.Int64(int64(r.TriggerID)), ts.typeAttr,
					NameKey.String(r.Name), processAttr))
			e.spanned.Add(1)
		} else {
			ts.dropped.Add(1)
		}
	}
	return st
}

// spanContext gives a resource's callbacks a ctx that carries its span, so
// that the spans started inside it, by the user or by instrumentation
// (otelhttp, otelgrpc, database drivers), are its children.
func (e *Exporter) spanContext(ctx context.Context, _ uint64, data any) context.Context {
	if st, _ := data.(*state); st != nil && st.span != nil {
		return trace.ContextWithSpan(ctx, st.span)
	}
	return ctx
}

// processAttr is ProcessKey of this process.
var processAttr = ProcessKey.String(func() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}())

func (e *Exporter) before(_ uint64, data any) { e.event(data, eventBefore) }
func (e *Exporter) after(_ uint64, data any)  { e.event(data, eventAfter) }

// event adds a span event to the resource's span, if it has one.
func (e *Exporter) event(data any, name string) {
	if e.spanned.Load() == 0 {
		return
	}
	if st, _ := data.(*state); st != nil && st.span != nil {
		st.span.AddEvent(name)
	}
}

func (e *Exporter) destroy(id uint64, created time.Time, data any) {
	st, _ := data.(*state)
	if st == nil {
		return
	}
	now := time.Now()
	s := e.shard(id)
	s.mu.Lock()
	s.done = append(s.done, lifetime{st.stats, now.Sub(created).Seconds()})
	var full []lifetime
	if len(s.done) >= lifetimeBatch {
		full, s.done, s.spare = s.done, s.spare, nil
		if s.done == nil { // the spare is being recorded by another goroutine
			s.done = make([]lifetime, 0, lifetimeBatch)
		}
	}
	s.mu.Unlock()
	st.stats.destroyed.Add(1)
	if st.desc != nil {
		e.ended.add(id, endedRequest{created: created, ended: now, trace: st.trace, desc: st.desc})
	}
	if full != nil {
		e.record(full)
		s.mu.Lock()
		s.spare = full[:0]
		s.mu.Unlock()
	}
	e.end(st, now, false)
}

// drop ends the span of a resource still live at Shutdown, marked
// unfinished, unless Shutdown's ctx is done: then the span is dropped.
func (e *Exporter) drop(_ uint64, data any) {
	st, _ := data.(*state)
	if st == nil || st.span == nil {
		return
	}
	if ctx := e.shutdownCtx; ctx != nil && ctx.Err() != nil {
		e.spansLost.Store(true)
		e.spanned.Add(-1)
		return
	}
	e.end(st, time.Now(), true)
}

// record records a batch of lifetimes. It is called without a shard lock:
// the SDK is someone else's code.
func (e *Exporter) record(batch []lifetime) {
	for _, l := range batch {
		e.lifetime.Record(context.Background(), l.seconds, l.stats.record...)
	}
}

// recordLifetimes records every shard's waiting lifetimes: before a
// collection reads the histogram, and at Shutdown.
func (e *Exporter) recordLifetimes() {
	var batch []lifetime
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.Lock()
		batch = append(batch[:0], s.done...)
		s.done = s.done[:0]
		s.mu.Unlock()
		e.record(batch)
	}
}

// end ends the resource's span, if it has one; unfinished marks a span ended
// while its resource is still live.
func (e *Exporter) end(st *state, now time.Time, unfinished bool) {
	if st.span == nil {
		return
	}
	if unfinished {
		st.span.SetAttributes(unfinishedKey.Bool(true))
	}
	st.span.End(trace.WithTimestamp(now))
	e.spanned.Add(-1)
}

// traceOf returns the trace and span current when resource id was created,
// if the Exporter holds it.
func (e *Exporter) traceOf(id uint64) (trace.TraceID, trace.SpanID) {
	data, _ := e.registry.Data(id)
	return stateTrace(data)
}

func stateTrace(data any) (trace.TraceID, trace.SpanID) {
	if st, _ := data.(*state); st != nil {
		return st.trace, st.spanID
	}
	return trace.TraceID{}, trace.SpanID{}
}

// Handler returns the live-resource view: an http.Handler that answers, for a
// trace or an execution, which resources are still alive, with their trigger
// chains and ages. See the package documentation for its queries and
// formats. After Shutdown it answers 503 Service Unavailable.
func (e *Exporter) Handler() http.Handler { return viewHandler{e} }

// Shutdown stops listening, unregisters the metrics callback and ends the
// spans of the resources still live, marked async.unfinished=true, so that
// they are exported rather than lost. The TracerProvider and MeterProvider
// are not shut down: they belong to the caller, who shuts them down after.
//
// If ctx is done before every span has been ended, Shutdown returns ctx's
// error joined with any other; the remaining spans are dropped. Listening
// stops either way. Calls after the first return nil.
//
// A hook call already under way on another goroutine when Shutdown starts
// still completes: a resource destroyed at that instant may end its span
// (normally) just after Shutdown returns.
func (e *Exporter) Shutdown(ctx context.Context) error {
	if !e.isShutdown.CompareAndSwap(false, true) {
		return nil
	}
	// Disabling the registry drops every live resource through e.drop, and
	// makes an Init already past the hook's check drop its own.
	e.shutdownCtx = ctx
	e.registry.Disable()
	e.stopWatch()
	e.recordLifetimes()
	var errs []error
	if e.spansLost.Load() {
		errs = append(errs, ctx.Err())
	}
	if e.metrics != nil {
		errs = append(errs, e.metrics.Unregister())
	}
	return errors.Join(errs...)
}
