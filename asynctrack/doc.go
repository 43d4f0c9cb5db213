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
//	als.getStore()                                           (*Store[T]).Value(ctx), or Current() without a ctx
//	AsyncLocalStorage.bind(fn)                               Bind(ctx, fn)
//	AsyncLocalStorage.snapshot()                             keep the ctx: frames are immutable snapshots
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
// CurrentExecutionID to it. A scope is opened by:
//
//   - (*Resource).Run, (*Store[T]).Run and Run, for the duration of the call;
//   - every timer callback and every task (Bind, Pool), which run on goroutines
//     they do not own, and every Pool worker between tasks;
//   - Go, when its ctx carries store values that its creator's scope does not
//     (a ctx from Store.With).
//
// Otherwise a goroutine started by Go runs in the scope it was started in, as
// a plain go statement would: code without a ctx sees the same values, and
// CurrentExecutionID returns that scope's execution, not the goroutine's own
// (ExecutionID(ctx) always returns its own). That keeps Go at one small
// allocation over a go statement; wrap the goroutine's body in a Resource's
// Run where an exact ambient ID matters.
//
// Scopes are found by the identity of their label, never through a global
// map, so a scope lives exactly as long as a goroutine or a context holds it
// and nothing needs a destroy step to be freed. The user's own pprof labels
// are kept: a scope adds one label, "otelctx", whose value is the resource
// type, so CPU profiles can be grouped by it.
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
//   - A goroutine that a library starts lazily inside a request (an HTTP/2 or
//     keep-alive connection's reader, say) inherits the request's scope and
//     keeps it alive as long as it runs.
//   - Reading the current goroutine's labels needs runtime/pprof's
//     runtime_getProfLabel through go:linkname, which the runtime lists as a
//     tolerated use, as it does runtime.procPin, which hands out IDs per CPU.
//     Building with the tag otelctx_nolinkname drops both: then lookups work
//     from a ctx only, Ambient returns context.Background(), and IDs come
//     from one shared counter.
//
// # Hooks and cost
//
// A hook is disabled until enabled and may be enabled and disabled at any time
// while work runs; several may be active. Init runs once, on the creating
// goroutine; Before and After bracket each execution of the resource's
// callback on the executing goroutine; Destroy runs exactly once, after the
// last After: for a goroutine when it returns, for a timer when it has fired
// or was stopped, for a task when it has run, for a user-defined resource on
// Destroy or, if it is never destroyed, when it is garbage collected. A panic
// in a hook is recovered and reported through otel.Handle; the tracked work
// and the other hooks go on. A panic in a tracked callback still emits After
// and Destroy, then propagates.
//
// IDs are unique in the process and never reused. A resource takes its ID
// when it is created, except for a goroutine that Go or a Group starts while
// no hook is enabled: it takes its ID when something first asks for it
// (ExecutionID, TriggerID of its children...), which most goroutines never
// do, and then allocates 48 bytes to keep it. IDs are handed out in blocks,
// one per CPU, so they do not follow creation order.
//
// With no hook enabled, the lifecycle costs one atomic load per resource,
// and Go adds one allocation to the go statement's own: 32 bytes on amd64
// and arm64 (48 elsewhere, or with the purego tag) when its ctx is
// Background, TODO or a ctx this package made (the ctx of a callback,
// Store.Run's or a Resource's), 48 bytes (64) when the ctx wraps one of
// those (context.WithCancel, a span, baggage), and 48 bytes (64) with a
// hook enabled. Started, while a scope is ambient, from a context that
// carries no execution and is not Background or TODO (a context.WithTimeout
// of Background inside a plain go statement, say), it also allocates a small
// link from that context to the ambient execution, its trigger.
//
// Registry, a hook underneath, keeps the live resources with their trigger
// chains and ages for exporters and debug pages.
package asynctrack
