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
// The goroutines come from the runtime's goroutine profile, read once per
// page when the page is requested (concurrent pages share one read), in its
// protocol buffer form, the one that carries each goroutine's labels and so
// its scope's label; a label is looked up in asynctrack's table of scopes
// and never trusted otherwise. That form has no goroutine states: a state is
// named after the runtime function the goroutine is parked in, as the
// runtime's own stack dumps name it ("chan receive", "chan send", "select",
// "IO wait", "sync.Mutex.Lock", "sync.WaitGroup.Wait", "sync.Cond.Wait",
// "sleep", "semacquire", else "waiting"), "runnable" for one not parked,
// "syscall" in a system call. Reading the profile stops the world exactly as
// long as the runtime's goroutine profile does (it is that profile), and
// costs time in proportion to the goroutines: at 10,000 goroutines, about
// what the profile itself costs, tens to a few hundred milliseconds (see
// BenchmarkView). Builds with the otelctx_nolinkname tag have no scopes, so
// their view shows no goroutines.
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
