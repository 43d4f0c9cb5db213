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

	"github.com/otelctx/otelctx/internal/registry"
	"github.com/otelctx/otelctx/internal/reqinfo"
	"github.com/otelctx/otelctx/internal/scopehook"
)

// scopeName is the instrumentation scope of the tracer and meter.
const scopeName = "github.com/otelctx/otelctx/exporter"

// Attribute keys of async-resource spans.
const (
	// idKey is the resource's ID, as asynctrack.ExecutionID returns it.
	idKey = attribute.Key("async.id")
	// triggerIDKey is the ID of the execution that created the resource, 0
	// if none.
	triggerIDKey = attribute.Key("async.trigger_id")
	// typeKey is the resource's type, such as "goroutine". The metrics
	// carry it too.
	typeKey = attribute.Key("async.type")
	// nameKey is the resource's readable name (registry.Name of
	// its value): for a goroutine, task or timer, the function it runs.
	nameKey = attribute.Key("async.name")
	// processKey identifies the process the IDs belong to: a random value
	// drawn when the process starts, so that async.id=2 of two services, or
	// of two runs of one, never read as one resource.
	processKey = attribute.Key("async.process.id")
	// unfinishedKey marks a span that Shutdown ended while its resource was
	// still live.
	unfinishedKey = attribute.Key("async.unfinished")
)

// Span event names.
const (
	eventBefore = "async.before"
	eventAfter  = "async.after"
)

// Instrumentation turns the lifecycle of asynctrack resources into
// OpenTelemetry spans and metrics and serves a view of the live resources.
// It listens from NewInstrumentation until Shutdown. It is safe for
// concurrent use.
type Instrumentation struct {
	// registry is the one hook and the one map of live resources: each
	// record carries the Instrumentation's state of its resource.
	registry *registry.Registry
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

// state is what the Instrumentation keeps per live resource, in the registry's
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

// NewInstrumentation returns an Instrumentation configured by opts that
// listens to every resource created from now on, until Shutdown. Errors
// creating its metric instruments are reported through otel.Handle, and it
// works on without the instruments that failed.
func NewInstrumentation(opts ...Option) *Instrumentation {
	c := newConfig(opts...)
	e := &Instrumentation{
		tracer:    c.tracerProvider.Tracer(scopeName),
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
	funcs := registry.Funcs{Init: e.init, Destroy: e.destroy, Drop: e.drop}
	if len(c.spanTypes) > 0 {
		// Without span types nothing needs Before and After.
		funcs.Before, funcs.After, funcs.Context = e.before, e.after, e.spanContext
	}
	e.stopWatch = scopehook.Watch()
	e.registry = registry.New(funcs).Enable()
	return e
}

func (e *Instrumentation) shard(id uint64) *shard { return &e.shards[id%shards] }

// The hooks' cost.
// The hook runs on the goroutine that creates, runs or destroys a resource.
// Per resource it reads the clock twice, adds to two
// atomic counters, reads
// the span context of the creating ctx, and inserts and deletes one entry of
// a map sharded by ID (no lock is shared by all goroutines); the
// registry.Registry behind the view adds one allocation, and one more for
// a resource that starts others (the link their chains share). No hook
// walks a trigger chain: a timer that re-arms itself fires as fast at the
// millionth firing as at the first (BenchmarkRearmingTimer). Lifetimes are
// recorded in batches of 32 per shard, because one Record is a deep call
// that makes a fresh goroutine's small stack grow; a collection first records
// the waiting ones, so the histogram can trail async.resources.destroyed only
// by a batch being recorded at that instant. Before and After cost one atomic
// load while no live resource has a span. A span costs what the SDK's span
// start, two events and end cost. See BenchmarkExporterHook.
func (e *Instrumentation) init(ctx context.Context, r registry.LiveResource) any {
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
				trace.WithAttributes(idKey.Int64(int64(r.ID)), triggerIDKey.Int64(int64(r.TriggerID)), ts.typeAttr,
					nameKey.String(r.Name), processAttr))
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
func (e *Instrumentation) spanContext(ctx context.Context, _ uint64, data any) context.Context {
	if st, _ := data.(*state); st != nil && st.span != nil {
		return trace.ContextWithSpan(ctx, st.span)
	}
	return ctx
}

// processAttr is processKey of this process.
var processAttr = processKey.String(func() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}())

func (e *Instrumentation) before(_ uint64, data any) { e.event(data, eventBefore) }
func (e *Instrumentation) after(_ uint64, data any)  { e.event(data, eventAfter) }

// event adds a span event to the resource's span, if it has one.
func (e *Instrumentation) event(data any, name string) {
	if e.spanned.Load() == 0 {
		return
	}
	if st, _ := data.(*state); st != nil && st.span != nil {
		st.span.AddEvent(name)
	}
}

func (e *Instrumentation) destroy(id uint64, created time.Time, data any) {
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
func (e *Instrumentation) drop(_ uint64, data any) {
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
func (e *Instrumentation) record(batch []lifetime) {
	for _, l := range batch {
		e.lifetime.Record(context.Background(), l.seconds, l.stats.record...)
	}
}

// recordLifetimes records every shard's waiting lifetimes: before a
// collection reads the histogram, and at Shutdown.
func (e *Instrumentation) recordLifetimes() {
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
func (e *Instrumentation) end(st *state, now time.Time, unfinished bool) {
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
// if the Instrumentation holds it.
func (e *Instrumentation) traceOf(id uint64) (trace.TraceID, trace.SpanID) {
	data, _ := e.registry.Data(id)
	return stateTrace(data)
}

func stateTrace(data any) (trace.TraceID, trace.SpanID) {
	if st, _ := data.(*state); st != nil {
		return st.trace, st.spanID
	}
	return trace.TraceID{}, trace.SpanID{}
}

// Handler returns the live view: an http.Handler that serves the resources
// still alive, each with its trigger chain (nearest first, as far back as the Instrumentation saw it, also past
// triggers that have ended, up to 16 links: a timer that re-arms itself a
// million times shows its 16 nearest and the length of the whole chain) and
// its age, and answers "what is this request waiting on?":
//
//   - a request that baggagebridge.Middleware serves shows its method, its
//     route (the ServeMux pattern, such as "GET /users/{id}", never the raw
//     path) and the baggage values the middleware's options select, redacted
//     or hashed as they say;
//   - under each resource, every goroutine that runs in its scope (see
//     asynctrack's package documentation: the goroutines its callbacks
//     start with a plain go statement, third-party ones included, inherit
//     it), grouped by stack, with why it is parked and the innermost frames
//     of its stack outside the runtime;
//   - goroutines still running in the scope of an execution that has ended
//     (a request that returned and left a goroutine behind) are listed apart
//     as outliving it, with the request they came from if it was one of the
//     last 4096 requests to end; asynctrack remembers the last 16,384 scopes
//     to close, and the goroutines of a scope closed before those are listed
//     together, as in a scope closed too long ago to tell whose.
//
// Each page reads the runtime's goroutine profile once (concurrent pages
// share one read), which stops the world as long as that profile does: tens
// to a few hundred milliseconds at 10,000 goroutines. A goroutine's state is
// named after the runtime function it is parked in ("chan receive",
// "select", "IO wait", "sync.Mutex.Lock", …). Builds with the
// otelctx_nolinkname tag have no scopes, so their view shows no goroutines.
//
// Query parameters, each at most once:
//
//	trace_id=<32 hex digits>  resources created inside that trace
//	id=<execution ID>         that resource and every resource it triggered, directly or not (within the kept links)
//	format=json|text|html     the default follows the Accept header (highest quality, then first named), else JSON
//	limit=<1..10000>          at most that many resources, 1000 if not given
//	offset=<n>                from the n-th matching resource on, oldest first
//
// With neither trace_id nor id, every live resource matches. An answer lists
// one page of the matching resources, so that it stays small however many
// are live and however deep their chains (about 180 KB of JSON for the
// default page with 100,000 live, at most about 3.3 MB when every resource
// on it shows 16 links); each page is a fresh snapshot. A query matches
// each live resource once, and converts only its page. An invalid parameter
// is answered with 400 Bad Request and a message saying which.
//
// The HTML page, for a browser, is self-contained (it loads nothing and runs
// only its own script, under a Content-Security-Policy that allows no more)
// and escapes every value: a collapsible tree of the resources with their
// type, name, ID, age and trigger chain, trace IDs linked to Jaeger with
// WithJaegerURL, refreshing itself every 5 seconds.
//
// The JSON is an object with "time", the query's "traceId" or "id", "total"
// (the matching resources), "offset", "limit", "goroutines" (how many the
// process runs; "goroutineError" if the profile could not be read),
// "resources" and "outliving". For each resource: "id", "type", "name",
// "triggerId", "traceId" and "spanId" of the span current at its creation
// (if any), "created", "ageSeconds", "triggers": [{"id", "type", "created",
// "ageSeconds", "live"}], "depth" (the length of the
// whole chain), for a request "request": {"method", "route",
// "values": [{"key", "value"}]}, and "goroutines": the groups of goroutines
// in its scope, each {"count", "state", "outlives" (its scope has closed),
// "frames": [{"function", "file", "line"}]}, innermost frame first, at most
// 16 groups ("goroutinesOmitted" counts the rest) of 6 frames. "outliving"
// lists, on the first page, at most 100 ended executions with goroutines
// still in their scope: {"id", "request", "traceId", "endedSecondsAgo",
// "goroutines", "goroutinesOmitted"}, "id" 0 for the scopes closed too long
// ago to tell. A group of goroutines that runs inside asynctrack.Exit (an
// outbound call through propagator.NewTransport, the connection goroutines
// it starts) is marked "exited": it is shown under the scope it left while
// that scope is open, and not at all after. The text is a tree from the oldest
// known trigger down to each live resource, with each resource's name,
// request and goroutines, their frames by function, file and line; triggers
// that are not part of the answer are marked "(done)" or "(live, outside
// this query)", and the oldest one shown says how many earlier
// triggers were not kept. The outliving executions follow the tree.
//
// After Shutdown it answers 503 Service Unavailable.
func (e *Instrumentation) Handler() http.Handler { return viewHandler{e} }

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
func (e *Instrumentation) Shutdown(ctx context.Context) error {
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
