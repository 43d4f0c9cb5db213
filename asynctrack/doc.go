// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package asynctrack is Node.js's async_hooks and AsyncLocalStorage for Go:
// it carries request values to everything a request starts, also to code
// that holds no context.Context, and lets hooks observe the lifecycle of
// that work. It uses the standard library only. See the package Example:
// a Store value set where a request starts, read without a ctx in a
// goroutine the request started.
//
// # Terms
//
// A resource is a unit of asynchronous work: a goroutine started by Go or a
// Group, a timer (AfterFunc), a task (Bind, Pool.Submit) or a user-defined
// Resource. Each has a process-unique ID, never reused. An execution is one
// run of a resource's callback; the ctx the callback receives carries the
// execution's ID (ExecutionID) and store values. The trigger of a resource is
// the execution whose ctx created it (TriggerID). A scope is what code
// without a ctx sees: Ambient returns its context, Store.Current reads from
// it. A ctx that carries nothing of this package (context.Background())
// belongs to no execution: work started from it is a root.
//
// # From Node.js
//
//	async_hooks.createHook(…) / hook.enable()   NewHook(HookFuncs{…}).Enable()
//	executionAsyncId(), triggerAsyncId()         ExecutionID(ctx), TriggerID(ctx); ExecutionID(Ambient()) without a ctx
//	new AsyncResource(type)                      NewResource(ctx, type, value)
//	resource.runInAsyncScope(fn), emitDestroy()  (*Resource).Run(fn), (*Resource).Destroy()
//	new AsyncLocalStorage(), als.run(v, fn)      NewStore[T](), (*Store[T]).Run(ctx, v, fn)
//	als.getStore()                               (*Store[T]).Value(ctx); Current() without a ctx
//	als.enterWith(v)                             baggagebridge.Set, for baggage values
//	AsyncLocalStorage.bind(fn), als.exit(fn)     Bind(ctx, fn), Exit(ctx, fn)
//	setTimeout, a promise, a worker pool         AfterFunc, Go / NewGroup, NewPool
//
// # Scopes
//
// Run, Store.Run and Resource.Run open a scope for the duration of the call
// on the calling goroutine; every timer callback and task runs in one; Go
// gives its goroutine one where its ctx differs from its creator's scope.
// A goroutine started with a plain go statement, third-party code included,
// sees the scope it was started in while that scope is open; once the work
// that opened it has ended it sees nothing, never another request's values.
// A scope shows only what its ctx carries; Exit runs a function outside every
// scope, for work that outlives its request (a pool dialing, a cache
// filling).
//
// The gaps: pprof.Do or pprof.SetGoroutineLabels with a context not from this
// package replaces the scope; callbacks of time.AfterFunc and workers of
// pools created earlier inherit nothing (use AfterFunc, Bind or Pool); a
// long-lived goroutine started with a go statement inside a request sees the
// request's values while the request runs (start it with
// Go(context.Background(), …) or inside Exit). Building with the tag
// otelctx_nolinkname drops the one go:linkname (runtime/pprof's
// runtime_getProfLabel): lookups then work from a ctx only, and Ambient
// returns context.Background().
//
// # Contracts
//
// Everything here is safe for concurrent use. Hooks may be enabled and
// disabled at any time. Init runs once, on the creating goroutine; Before and
// After bracket each execution on the executing goroutine, also when the
// callback panics (the panic then propagates); Destroy runs once, after the
// last After. A panic in a hook is recovered and reported, at most once a
// minute per event, to otel.Handle when a package of this module that uses
// OpenTelemetry is linked in, else to the log package; the tracked work and
// the other hooks go on. Work that re-arms itself from the ctx its callback
// received (setInterval) keeps a context of constant size. With no hook enabled, the
// lifecycle costs one atomic load per resource (README's cost table has the
// figures).
package asynctrack
