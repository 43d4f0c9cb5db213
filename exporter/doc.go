// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package exporter makes the async work that asynctrack tracks visible:
// as OpenTelemetry spans in the trace that started it, as metrics, and on a
// debug page that answers "what is still running for this request".
//
// An [Exporter] listens to every resource created between [New] and
// [Exporter.Shutdown]:
//
//	exp := exporter.New(
//		exporter.WithTracerProvider(tp),
//		exporter.WithMeterProvider(mp),
//		exporter.WithSpanTypes("goroutine", "task", "timer"),
//	)
//	defer exp.Shutdown(context.Background())
//	debug.Handle("/debug/async", exp.Handler()) // a loopback-only debug mux (see below)
//
// # Spans
//
// For the resource types selected by [WithSpanTypes] (none by default), each
// resource created inside a sampled trace gets a span:
//
//   - named after the type and the function it runs ("goroutine
//     api.(*Server).fetch.func1", see asynctrack.ResourceName), of kind
//     internal;
//   - a child of the span current in the context the resource was created
//     from, and started at creation (Init);
//   - with attributes async.id, async.trigger_id, async.type, async.name and
//     async.process.id ([IDKey], [TriggerIDKey], [TypeKey], [NameKey],
//     [ProcessKey]: IDs are per process, the process ID tells whose);
//   - with an event "async.before" and "async.after" around each execution
//     of the resource's callback;
//   - ended when the resource is destroyed, or by Shutdown if it is still
//     live then, marked async.unfinished=true.
//
// Executions are events rather than child spans: a goroutine or a task runs
// exactly once, so a child span would double the spans of the common case and
// spend the per-trace bound twice as fast, while events cost no span of the
// export pipeline and the SDK's event limit bounds a resource that runs many
// times.
//
// The resource's callbacks receive a context that carries its span (see
// asynctrack.HookFuncs.Context), and code without a ctx sees it ambiently:
// a span started inside a goroutine, task, timer or resource, by the user or
// by instrumentation such as otelhttp, is the async span's child, and an
// async resource started there nests under it too. So the span tree in a
// trace viewer is the trigger tree: request, goroutine, its calls and their
// downstream services. The trigger tree is also in the async.id and
// async.trigger_id attributes, and in the live-resource view.
//
// Resources created outside any trace, or in a trace that is not sampled, get
// no span. At most [WithMaxSpansPerTrace] spans (1000 by default) are started
// per trace, so a goroutine storm inside one request cannot flood the
// exporter; the resources past the bound get no span and are counted by
// otelctx.async.spans.dropped.
//
// # Metrics
//
// All carry the attribute async.type; past 256 distinct types, further types
// are counted together under otel.metric.overflow=true.
//
//	otelctx.async.resources.live       Int64ObservableUpDownCounter  {resource}  created and not yet destroyed
//	otelctx.async.resources.created    Int64ObservableCounter        {resource}
//	otelctx.async.resources.destroyed  Int64ObservableCounter        {resource}
//	otelctx.async.resource.lifetime    Float64Histogram              s           creation to destruction
//	otelctx.async.spans.dropped        Int64ObservableCounter        {span}      past the per-trace bound (span types only)
//
// Counts start at New: resources created before it are not counted.
//
// # Live-resource view
//
// [Exporter.Handler] serves the resources still alive, each with its trigger
// chain (nearest first, as far back as the Exporter saw it, also past
// triggers that have ended, up to 16 links: a timer that
// re-arms itself a million times shows its 16 nearest and the length of the
// whole chain) and its age. Query parameters, each at most once:
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
// The view tells what runs in the process: mount it on a debug listener of
// its own, bound to a loopback address, not on the service's public mux:
//
//	debug := http.NewServeMux()
//	debug.Handle("/debug/async", exp.Handler())
//	go http.ListenAndServe("127.0.0.1:6060", debug)
//
// The HTML page, for a browser, is self-contained (it loads nothing and runs
// only its own script, under a Content-Security-Policy that allows no more)
// and escapes every value: a collapsible tree of the resources with their
// type, name, ID, age and trigger chain, trace IDs linked to Jaeger with
// [WithJaegerURL], refreshing itself every 5 seconds.
//
// The JSON is an object with "time", the query's "traceId" or "id", "total"
// (the matching resources), "offset", "limit" and "resources": for each, "id", "type", "triggerId", "traceId" and "spanId" of
// the span current at its creation (if any), "created", "ageSeconds" and
// "triggers": [{"id", "type", "created", "ageSeconds", "live"}] and "depth",
// the length of the whole chain. The text is a tree from the oldest known
// trigger down to each live resource; triggers that are not part of the
// answer are marked "(done)" or "(live, outside this query)", and the oldest
// one shown says how many earlier triggers were not kept.
//
// # Cost
//
// The hook runs on the goroutine that creates, runs or destroys a resource.
// Per resource it reads the clock twice, adds to two
// atomic counters, reads
// the span context of the creating ctx, and inserts and deletes one entry of
// a map sharded by ID (no lock is shared by all goroutines); the
// asynctrack.Registry behind the view adds one allocation, and one more for
// a resource that starts others (the link their chains share). No hook
// walks a trigger chain: a timer that re-arms itself fires as fast at the
// millionth firing as at the first (BenchmarkRearmingTimer). Lifetimes are
// recorded in batches of 32 per shard, because one Record is a deep call
// that makes a fresh goroutine's small stack grow; a collection first records
// the waiting ones, so the histogram can trail otelctx.async.resources.destroyed only
// by a batch being recorded at that instant. Before and After cost one atomic
// load while no live resource has a span. A span costs what the SDK's span
// start, two events and end cost. See BenchmarkExporterHook.
package exporter

import _ "github.com/otelctx/otelctx/internal/otelhandle" // reports (hook panics too) reach otel.Handle
