// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package asynctrack is Node.js's async_hooks and AsyncLocalStorage for Go.
//
// Every goroutine, timer, pool task or user-defined resource started through
// this package is an async resource with a process-unique ID and the ID of the
// execution that triggered it. Hooks observe each resource's lifecycle (Init,
// Before, After, Destroy). A Store carries request values to everything a
// request starts, and code that holds no context.Context (the seed's
// getCurrentUser) can still read them.
//
// # From Node.js
//
//	async_hooks.createHook({init, before, after, destroy})  NewHook(HookFuncs{Init: …, Before: …, After: …, Destroy: …})
//	hook.enable() / hook.disable()                           (*Hook).Enable / (*Hook).Disable
//	executionAsyncId()                                       ExecutionID(ctx), or CurrentExecutionID() without a ctx
//	triggerAsyncId()                                         TriggerID(ctx), or CurrentTriggerID() without a ctx
//	new AsyncResource(type)                                  NewResource(ctx, type, value)
//	resource.runInAsyncScope(fn)                             (*Resource).Run(fn)
//	resource.bind(fn)                                        (*Resource).Bind(fn)
//	resource.emitDestroy()                                   (*Resource).Destroy()
//	new AsyncLocalStorage()                                  NewStore[T]()
//	als.run(store, fn)                                       (*Store[T]).Run(ctx, v, fn)
//	als.enterWith(store)                                     baggagebridge.Set, for baggage values
//	als.getStore()                                           (*Store[T]).Value(ctx), or Current() without a ctx
//	AsyncLocalStorage.bind(fn)                               Bind(ctx, fn)
//	AsyncLocalStorage.snapshot()                             keep the ctx: frames are immutable snapshots
//	als.exit(fn)                                             Exit(ctx, fn)
//	setTimeout(fn, ms)                                       AfterFunc(ctx, d, fn)
//	a promise, an async function                             Go(ctx, fn), NewGroup(ctx)
//
// In Node.js the execution context is implicit. In Go it is a ctx: every
// callback this package runs receives a context.Context that carries its
// execution ID and the store values, and work started from that ctx descends
// from it. Code that takes a ctx should use it: it is exact and the cheapest
// lookup (a type assertion). The ambient lookups exist for code that cannot
// take one: a logging hook, a driver callback, a third-party library that
// starts goroutines.
//
// # When to use plain context.Context instead
//
// If every function on the path takes a ctx and nothing needs lifecycle
// events, context.WithValue already does the job. Use this package when values
// must reach code that holds no ctx, when work must be observable as a tree of
// async resources (for tracing, metrics or finding the goroutine a request left
// behind), or when work crosses a queue or a long-lived goroutine that would
// otherwise lose its request.
//
// # Scopes: what code without a ctx sees
//
// The Go runtime copies exactly one thing into every new goroutine: its pprof
// label set. A scope is a label set of this package's own; the goroutine that
// runs in it, and every goroutine started from there with a plain go
// statement, third-party code included, resolve Ambient, Store.Current and
// CurrentExecutionID to it while it is open. A scope is opened by:
//
//   - (*Resource).Run, (*Store[T]).Run and Run, for the duration of the call;
//   - every timer callback and every task (Bind, Pool), which run on goroutines
//     they do not own, and every Pool worker between tasks;
//   - Go, when its ctx carries store values that its creator's scope does not
//     (a ctx from Store.With), or when a hook gave the goroutine its context.
//
// Otherwise a goroutine started by Go runs in the scope of its ctx's frame,
// as a plain go statement would: code without a ctx sees the same values, and
// CurrentExecutionID returns that scope's execution, not the goroutine's own
// (ExecutionID(ctx) always returns its own). Wrap the goroutine's body in a
// Resource's Run where an exact ambient ID matters.
//
// What a scope shows can change while it is open: baggagebridge.Set makes a
// value visible, from then on, to every goroutine that runs in the scope of
// the ctx it is given (Node.js's enterWith), without touching other scopes
// or contexts already handed out.
//
// A scope is open while the call that opened it runs and while any tracked
// goroutine, task or timer that shares it runs; when the last of them ends it
// closes, and it never opens again. A plain go statement does not hold it
// open: a goroutine that outlives the Run it was started in sees nothing from
// then on, never another request's values.
//
// The ctx decides, not the goroutine: a ctx that carries no frame of this
// package (context.Background(), a context of another library) belongs to
// no execution. Go, Run and the other functions that take a ctx start a root
// from it, which sees nothing of the scope ambient where it was started, and
// Store.Value reads only the ctx. Pass Ambient() to start from the ambient
// scope in code that holds no ctx. Exit runs a function outside any scope,
// as Node.js's AsyncLocalStorage.exit: goroutines it starts with a plain go
// statement carry no scope (only a label, "otelctx.exit", that tells the
// exporter's live view which scope they were started outside of, and that
// no lookup follows). propagator.NewTransport runs its RoundTripper so,
// because a transport starts the goroutines that dial, read and write a
// pooled connection from whichever request first needs it.
//
// Nothing a label says is trusted. A scope's label, key "otelctx", carries a
// random 64-bit token; the package owns the table from tokens to open scopes,
// and a label leads to a scope only if the table holds its token. A label a
// user writes, or one copied from a goroutine whose scope has closed, leads to
// nothing; no byte of a label is ever read as a pointer. The usual lookup
// reads no label: while a scope is open, the label set it installed keeps its
// address, and a small table indexed by that address leads back to it; a
// goroutine whose labels the user changed inside a scope reads the token
// through pprof.Label. The user's own pprof labels are kept.
//
// The gaps, honestly:
//
//   - pprof.Do or pprof.SetGoroutineLabels with a context that does not come
//     from this package replaces the goroutine's labels, and with them the
//     scope, also after it returns (pprof restores the labels of the ctx it was
//     given). pprof.Do with a ctx from this package keeps the scope.
//   - Callbacks of time.AfterFunc, and goroutines of worker pools created
//     before the request, inherit nothing: the runtime starts them with no
//     labels, or with their creator's. Use AfterFunc, Bind or Pool.
//   - A long-lived goroutine that user code starts with a plain go statement
//     inside a request (a lazily started worker, a connection reader) sees
//     the request's values for as long as the request's scope is open. Start
//     it with Go(context.Background(), …) or inside Exit; the HTTP clients of
//     this module do so for their connections.
//   - Reading the current goroutine's labels needs runtime/pprof's
//     runtime_getProfLabel through go:linkname, which the runtime lists as a
//     tolerated use; it is this package's only linkname. Building with the
//     tag otelctx_nolinkname drops it: then lookups work from a ctx only and
//     Ambient returns context.Background().
//
// # Work that starts work
//
// A callback's ctx is a frame of this package. Work started from that ctx
// as given (Go, AfterFunc, Bind, Pool.Submit, NewResource, Run, Store.With,
// Store.Run) takes the frame's place rather than wrapping it: its ctx holds
// its own identity and values over what the frame itself was derived from,
// and the ID of its trigger, taken when it is created, instead of a
// reference to it. So a timer that re-arms itself from its ctx, Node.js's
// setInterval, keeps a context chain of constant depth: ctx.Value, ctx.Err
// and this package's lookups cost at the millionth firing what they cost at
// the first, and no firing that ended stays reachable from the next. A
// Store value set anew on each firing replaces the one it shadows when it is
// the innermost.
//
// Layers in between are kept: a ctx derived from a callback's ctx by
// anything but this package (context.WithValue, WithCancel, WithTimeout, a
// tracer's Start, pprof.Do, Exit) is wrapped, as it must be for its values
// and its cancellation to reach the work. Work that re-arms itself from such
// a ctx grows the chain by that layer on each firing, as it would without
// this package: re-arm from the ctx the callback received, and derive what
// one firing needs from it inside the callback.
//
// What hooks add to a resource's context (see HookFuncs.Context; the
// exporter's span) belongs to that resource: work started from its frame
// gets what its own hooks add instead, or, if they add nothing, the
// resource's.
//
// # Hooks and cost
//
// A hook is disabled until enabled and may be enabled and disabled at any time
// while work runs; several may be active, and a hook's Context may derive the
// context its resources' callbacks receive (see HookFuncs). Init runs once, on
// the creating goroutine; Before and After bracket each execution of the
// resource's callback on the executing goroutine; Destroy runs exactly once,
// after the last After: for a goroutine when it returns, for a timer when it
// has fired or was stopped, for a task when it has run, for a user-defined
// resource on Destroy or, if it is never destroyed, when it is garbage
// collected. A panic in a hook is recovered and reported, at most once a
// minute per event, to otel.Handle when a package that depends on
// OpenTelemetry (baggagebridge, exporter, propagator) is linked in, else to
// the log package; the tracked work and the other hooks go on. A panic in a
// tracked callback still emits After and Destroy, then propagates.
//
// IDs are unique in the process and never reused. A resource takes its ID
// when it is created, except for a goroutine that Go or a Group starts while
// no hook is enabled: it takes its ID when something first asks for it
// (ExecutionID) or when it first starts work from its ctx (the work's
// trigger), which most goroutines never do.
//
// With no hook enabled, the lifecycle costs one atomic load per resource,
// and Go adds one allocation of 80 bytes to the go statement's own: the
// execution its callback receives as ctx. That allocation is most of what Go
// costs over a go statement (BenchmarkGo's plain_frame row prices it alone).
// Goroutines that share their creator's scope add an atomic add on the
// scope at start and at end.
//
// Registry, a hook underneath, keeps the live resources with their trigger
// chains (the 16 nearest links of each, and its length) and ages
// for exporters and debug pages; it keeps nothing of a resource that ended
// but those links.
package asynctrack
