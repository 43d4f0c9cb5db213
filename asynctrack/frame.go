// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"runtime/pprof"
	"sync/atomic"

	"github.com/otelctx/otelctx/internal/scopehook"
)

// Resource types used by this package. User-defined resources may use any
// other string.
const (
	TypeGoroutine = "goroutine"
	TypeTimer     = "timer"
	TypeTask      = "task"
)

// nextID is the last resource ID handed out. IDs start at 1: ID 0 means
// "none". It has a cache line of its own: every core writes it.
var nextID struct {
	_ [64]byte
	atomic.Uint64
	_ [56]byte
}

// newID returns a resource ID that was never handed out before.
func newID() uint64 { return nextID.Add(1) }

// frame is the execution context of tracked work: the identity of the
// resource being executed and what its callbacks see. It is the
// context.Context that callbacks receive, so a lookup from a ctx is a type
// assertion or one Value walk. Its fields do not change once the frame is
// handed out, except the lazily taken ID and, for an execution before its
// callback starts, its scope.
//
// A frame never wraps a frame: one derived from a ctx that is a frame takes
// that frame's contexts instead of the frame (see derive and newExecution),
// so work that starts work from the ctx it was given, a timer that re-arms
// itself a million times, keeps a context chain of constant depth.
type frame struct {
	// Context is what lookups of keys other than this package's go to: the
	// context the frame was derived from, without its frames, with what the
	// hooks added for the resource (a *hooked; see HookFuncs.Context). It is
	// never a *frame.
	context.Context
	// res is the frame that holds the identity of f's resource: f itself for
	// the frame a resource was created with, the resource's for a frame that
	// Run, Store.With or Store.Run derived, nil for a frame of no resource.
	res    *frame
	values *binding // store values, innermost first
	// scope is what code without a ctx sees while f's callbacks run, nil if
	// that has not been decided yet (see frame.enter).
	scope *scope
	// hooks are the hooks enabled when f's resource was created: those that
	// saw its Init and receive its other events.
	hooks *hookSet
	// id is the resource ID when res is f; 0 until taken (see ID).
	id atomic.Uint64
	// triggerID is, when res is f, the ID of the execution that created
	// f's resource, taken when f was created: f keeps no reference to it.
	triggerID uint64
	// ownScope is set when f's callbacks must run in a scope of their own
	// even if their creator's shows the same values: a hook gave them their
	// context, or they run where code without a ctx must see their own
	// execution (a task, a timer, a Pool's worker, a Resource's Run).
	ownScope bool
}

// ID returns the ID of f's resource, or 0 if it has none. A resource that no
// hook saw created takes its ID when first asked: most goroutines never are,
// and taking one at every spawn would make every core write one counter.
func (f *frame) ID() uint64 {
	r := f.res
	if r == nil {
		return 0
	}
	if id := r.id.Load(); id != 0 {
		return id
	}
	r.id.CompareAndSwap(0, newID()) // if another goroutine won, its ID is r's
	return r.id.Load()
}

// hooked is the Context of a frame whose resource's hooks added to it: what
// they derived, and what they derived it from.
type hooked struct {
	context.Context
	base context.Context
}

// base returns f's Context without what the hooks added for f's resource:
// what a resource created from f starts from.
func (f *frame) base() context.Context {
	if h, ok := f.Context.(*hooked); ok {
		return h.base
	}
	return f.Context
}

// trigger returns the ID of the execution that created f's resource.
func (f *frame) trigger() uint64 {
	if f.res == nil {
		return 0 // no resource, no trigger
	}
	return f.res.triggerID
}

type frameKey struct{}

// Value returns f for the package's own key and, for pprof's label key, the
// label set of f's scope, so that pprof.Do or pprof.WithLabels on a frame
// keep the scope.
func (f *frame) Value(key any) any {
	if key == (frameKey{}) {
		return f
	}
	if sc := f.scope; sc != nil && isLabelKey(key) {
		return sc.labels.Value(key)
	}
	return f.Context.Value(key)
}

// frameOf returns the frame carried by ctx, or nil.
func frameOf(ctx context.Context) *frame {
	if f, ok := ctx.(*frame); ok {
		return f
	}
	f, _ := ctx.Value(frameKey{}).(*frame)
	return f
}

// derive makes f a frame of ctx's resource, with its values and what ctx
// carries besides. A ctx that carries no frame belongs to no resource: f is
// then a root, whatever scope is ambient on the calling goroutine.
func derive(f *frame, ctx context.Context) {
	if p, ok := ctx.(*frame); ok {
		// Take p's place rather than wrap it: f sees what p sees. p's
		// scope is there for pprof's labels only (see Value), as it was
		// when f wrapped p: f runs in a scope of its own (runScoped).
		f.Context, f.res, f.values, f.scope = p.Context, p.res, p.values, p.scope
		return
	}
	f.Context = ctx
	if p := frameOf(ctx); p != nil {
		f.res, f.values = p.res, p.values
	}
}

// execution is every resource that this package runs once: a goroutine, a
// task or a timer callback.
type execution struct {
	frame frame
	fn    func(context.Context)
}

// newExecution creates a resource of type typ triggered by ctx's execution
// (none if ctx carries no frame), to run fn once, and emits Init. If own is
// set, or a hook gave the callback its context, the callback runs in a scope
// of its own; otherwise in the scope of ctx's frame when that scope shows the
// same values and is still open, else in one of its own when it has values
// to show, else in none (see frame.enter).
func newExecution(ctx context.Context, typ string, value any, fn func(context.Context), own bool) *execution {
	e := &execution{fn: fn}
	f := &e.frame
	f.res, f.ownScope = f, own
	base := ctx
	parent, ok := ctx.(*frame)
	if ok {
		// Take the parent's place rather than wrap it (see frame): f sees
		// what the parent sees, and its own hooks add to what the parent
		// started from.
		f.Context, base = parent.Context, parent.base()
	} else {
		parent = frameOf(ctx)
		f.Context = ctx
	}
	if parent != nil {
		f.values = parent.values
		if parent.res != nil {
			// Taken now: f keeps no reference to its trigger. A parent
			// asked first gets its ID first.
			f.triggerID = parent.ID()
		}
	}
	if hs := active.Load(); hs != nil {
		f.hooks = hs
		id := newID()
		f.id.Store(id)
		if derived := hs.init(ctx, base, id, typ, value, f.triggerID); derived != base {
			f.Context, f.ownScope = &hooked{derived, base}, true
		}
	}
	if ambientSupported && !f.ownScope && parent != nil {
		if sc := parent.scope; sc != nil && sc.shows(f.values) && sc.acquire() {
			f.scope = sc
		}
	}
	return e
}

// start runs e's callback on the calling goroutine, then destroys e.
func (e *execution) start() { e.frame.run(e.fn, true) }

// discard destroys an execution whose callback will never run.
func (e *execution) discard() {
	if sc := e.frame.scope; sc != nil {
		sc.release()
	}
	e.frame.destroy()
}

// run executes fn as one callback of f's resource on the calling goroutine:
// f's scope is ambient while fn runs, Before and After bracket it, and, if
// last is set, Destroy follows. A panic in fn still emits After and Destroy,
// then propagates.
//
// Without hooks, run keeps a small stack frame: a goroutine that Go starts
// begins in it, on the runtime's smallest stack, and what run takes of that
// stack fn cannot use before the stack must grow (a copy).
func (f *frame) run(fn func(context.Context), last bool) {
	if f.hooks != nil {
		f.runHooked(fn, last)
		return
	}
	prev, swapped := f.enter()
	if swapped || f.scope != nil {
		defer f.leave(prev, swapped)
	}
	fn(f)
}

// runHooked is run for a frame with hooks.
func (f *frame) runHooked(fn func(context.Context), last bool) {
	hs := f.hooks
	prev, swapped := f.enter()
	id := f.ID()
	hs.emit(before, id)
	defer func() {
		hs.emit(after, id)
		if last {
			hs.emit(destroy, id)
		}
		f.leave(prev, swapped)
	}()
	fn(f)
}

// destroy emits Destroy for f's resource.
func (f *frame) destroy() {
	if hs := f.hooks; hs != nil {
		hs.emit(destroy, f.ID())
	}
}

// Run calls fn with ctx made ambient on the calling goroutine until fn
// returns: code without a ctx then sees, through Ambient, everything ctx
// carries (store values, and also the current span, baggage or any other
// context value), and so do goroutines started from there with a plain go
// statement, until fn returns. Work started from ctx inherits it as usual.
//
// A ctx that carries no frame of this package is a root: inside Run it is
// what code without a ctx sees, not the scope that was ambient before.
func Run(ctx context.Context, fn func(ctx context.Context)) {
	f := &frame{}
	derive(f, ctx)
	f.runScoped(fn)
}

// runScoped calls fn with a new scope of f's own ambient on the calling
// goroutine. f must not have been handed out yet.
func (f *frame) runScoped(fn func(context.Context)) {
	if !ambientSupported {
		fn(f)
		return
	}
	prev := getProfLabel()
	f.scope = newScope(f)
	defer f.leave(prev, true)
	fn(f)
}

// Exit calls fn outside every scope: fn's ctx is ctx without this package's
// frame, so work started from it is a root with no store values, and while
// fn runs code without a ctx sees nothing, nor do goroutines started from
// there with a plain go statement. When fn returns, the calling goroutine is
// back in its scope. It is Node.js's AsyncLocalStorage.exit.
//
// Exit is for work that outlives the request it happens to start in: a
// connection pool dialing, a cache filling itself, a worker started once.
// Values other than this package's stay in fn's ctx (deadline, cancellation,
// the span); pprof labels do not: fn runs with none, or, while an exporter
// Instrumentation exists, with one, "otelctx.exit", that names the scope it
// left for the exporter's live view (which shows the goroutine, and those
// fn starts, as outside that scope while it is open) and that no lookup
// follows.
func Exit(ctx context.Context, fn func(ctx context.Context)) {
	if saved := leaveScopes(); saved.Swapped {
		defer backToScope(saved)
	}
	fn(&exited{ctx})
}

// leaveScopes takes the calling goroutine out of every scope, as Exit does
// for its callback, and returns what backToScope needs to put it back. The
// goroutine gets the label that names the scope it left only while the
// live view watches (see closedTable.watch): nothing else reads it.
func leaveScopes() scopehook.Saved {
	if !ambientSupported {
		return scopehook.Saved{}
	}
	prev := getProfLabel()
	if prev == nil {
		return scopehook.Saved{}
	}
	if s := lookupScope(prev); s != nil && closed.watched() {
		pprof.SetGoroutineLabels(s.exitLabels())
	} else {
		setLabels(nil)
	}
	return scopehook.Saved{Labels: prev, Swapped: true}
}

// backToScope undoes leaveScopes.
func backToScope(saved scopehook.Saved) {
	if saved.Swapped {
		setLabels(saved.Labels)
	}
}

// exited is a context with no frame and no pprof labels (see Exit).
type exited struct{ context.Context }

func (c *exited) Value(key any) any {
	if key == (frameKey{}) || isLabelKey(key) {
		return nil
	}
	return c.Context.Value(key)
}

// ExecutionID returns the ID of the resource whose callback ctx belongs to,
// or 0 if ctx carries none. It is Node.js's executionAsyncId for a ctx.
func ExecutionID(ctx context.Context) uint64 {
	if f := frameOf(ctx); f != nil {
		return f.ID()
	}
	return 0
}

// TriggerID returns the ID of the execution that created the resource ctx
// belongs to, or 0. It is Node.js's triggerAsyncId for a ctx.
func TriggerID(ctx context.Context) uint64 {
	if f := frameOf(ctx); f != nil {
		return f.trigger()
	}
	return 0
}

// Ambient returns the context of the innermost open scope visible to the
// calling goroutine without a ctx, or context.Background() if there is none.
// It is for code that holds no context.Context; code that holds one should
// use it.
//
// A scope is visible inside every callback this package runs and inside
// goroutines started with a plain go statement from one, for as long as the
// work that opened it runs. See the package documentation for what opens a
// scope and for the gaps.
func Ambient() context.Context {
	if s := ambientScope(); s != nil {
		ctx, _ := s.current()
		return ctx
	}
	return context.Background()
}
