package asynctrack

import (
	"context"
	"sync/atomic"
	"unsafe"
)

// Resource types used by this package. User-defined resources may use any
// other string.
const (
	TypeGoroutine   = "goroutine"
	TypeTimer       = "timer"
	TypeTask        = "task"
	TypeHTTPRequest = "http.request"
)

// nextID is the last resource ID handed out, to a resource or to a block of
// them (see newID). IDs start at 1: ID 0 means "none". It has a cache line
// of its own: it is written on every spawn or block.
var nextID struct {
	_ [64]byte
	atomic.Uint64
	_ [56]byte
}

// frame is the execution context of tracked work: the identity of the
// resource being executed and what its callbacks see. It is the
// context.Context that callbacks receive, so a lookup from a ctx is a type
// assertion or one Value walk, and deriving work from it copies pointers:
// store values and scope are immutable snapshots, shared until changed.
//
// A frame stores no trigger ID: its Context always carries the frame of the
// execution it was created from (see parentOf), and asking for the trigger
// is rare enough to walk there. That keeps an execution at 48 bytes.
type frame struct {
	context.Context        // the context the work was created from
	id              uint64 // the resource's ID, 0 until first asked for, or noResource: read it with ID
	env             *env   // never nil
}

// noResource is the id of a frame that belongs to no resource: one derived
// from a context without an execution, by Run, Store.Run or Store.With.
// Its ID is 0, "none", and stays so.
const noResource = ^uint64(0)

// ID returns the ID of f's resource, or 0 if it has none. A resource that no
// hook saw created gets its ID when something first asks for it, which most
// goroutines never do: for them, taking an ID would be most of what Go adds
// to a go statement after its allocation. Either way the ID is unique and
// never changes.
func (f *frame) ID() uint64 {
	id := atomic.LoadUint64(&f.id)
	if id == noResource {
		return 0
	}
	if id != 0 {
		return id
	}
	id = newID()
	if atomic.CompareAndSwapUint64(&f.id, 0, id) {
		return id
	}
	return atomic.LoadUint64(&f.id) // another goroutine asked first; id goes unused
}

// trigger returns the ID of the execution that created f's resource: that of
// the nearest frame f's Context carries with another ID. Frames with f's own
// ID on the way are f's resource, derived by Run or Store.Run.
func (f *frame) trigger() uint64 {
	id := f.ID()
	if id == 0 {
		return 0 // no resource, no trigger
	}
	for p := frameOf(f.Context); p != nil; p = frameOf(p.Context) {
		if pid := p.ID(); pid != id {
			return pid
		}
	}
	return 0
}

// env is what a frame shares with the frames derived from it and the work it
// starts, for as long as none of it changes: a goroutine started by Go
// usually points to its parent's, which keeps an execution at 48 bytes.
type env struct {
	values *binding // store values, innermost first
	scope  *scope   // what code without a ctx resolves to; nil if none
	// hooks are the hooks enabled when the env was made: for an execution,
	// those that saw its Init and receive its other events.
	hooks *hookSet
}

// emptyEnv is the env of work with no values and no scope while no hook is
// enabled; hookSet.root is the one while some are.
var emptyEnv = &env{}

// rootEnv returns the env of work with no values and no scope, started
// while hs is enabled.
func rootEnv(hs *hookSet) *env {
	if hs == nil {
		return emptyEnv
	}
	return &hs.root
}

type frameKey struct{}

// Value returns f for the package's own key and, for pprof's label key, the
// label set of f's scope, so that pprof.Do on a frame keeps the ambient scope.
func (f *frame) Value(key any) any {
	if key == (frameKey{}) {
		return f
	}
	if sc := f.env.scope; sc != nil && sc.frame == f && isLabelKey(key) {
		return labelMapValue(sc.labels)
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

// parentOf resolves the frame that new work created from ctx descends from:
// the one ctx carries or, when it carries none, the ambient one, so that work
// started from a plain go statement still has the right trigger and values.
// It also returns the context the new work derives from, which carries that
// frame: ctx, the ambient frame for a bare Background or TODO context, which
// carries nothing of its own, or else ctx linked to the ambient frame.
func parentOf(ctx context.Context) (*frame, context.Context) {
	bare := isBare(ctx)
	if !bare {
		if f := frameOf(ctx); f != nil {
			return f, ctx
		}
	}
	s := ambientScope()
	if s == nil {
		return nil, ctx
	}
	if bare {
		return s.frame, s.frame
	}
	return s.frame, &link{Context: ctx, frame: s.frame}
}

// bareTabs are the interface tables of context.Background() and
// context.TODO() as a context.Context. Their types carry nothing, so a
// context with either table is one of them: comparing the table is enough,
// and Go calls it on every spawn.
var bareTabs = [2]unsafe.Pointer{ctxTab(context.Background()), ctxTab(context.TODO())}

func ctxTab(ctx context.Context) unsafe.Pointer { return (*iface)(unsafe.Pointer(&ctx)).tab }

// isBare reports whether ctx is context.Background() or context.TODO().
func isBare(ctx context.Context) bool {
	t := ctxTab(ctx)
	return t == bareTabs[0] || t == bareTabs[1]
}

// link is a context that carries a frame it does not derive from: the
// ambient one, for work created from a context without a frame of its own.
// Everything else it looks up in that context.
type link struct {
	context.Context
	frame *frame
}

func (l *link) Value(key any) any {
	if key == (frameKey{}) {
		return l.frame
	}
	return l.Context.Value(key)
}

// execution is a resource that this package runs: a frame and the callback,
// in one allocation of 48 bytes (a word more where launch_asm.go is not built), the
// only one Go adds to a go statement (see launch.go).
type execution struct {
	closure closureHeader // first: makes *execution a func() once set
	frame   frame
	fn      func(context.Context)
}

// scopedExecution is an execution with a scope of its own.
type scopedExecution struct {
	execution
	env   env
	scope scope
}

// envExecution is an execution whose env differs from its parent's only by
// the hooks, which were enabled or disabled in between.
type envExecution struct {
	execution
	env env
}

// newExecution creates a resource of type typ triggered by ctx's execution,
// to run fn, and emits Init. The resource gets a scope of its own, so that
// code without a ctx inside it sees its ID, if scoped is set. Otherwise it
// shares the scope it was created in, unless that scope's values are not
// ctx's (ctx came from Store.With): code without a ctx always sees the values
// of the ctx its work was started from. See "Scopes" in the package docs.
func newExecution(ctx context.Context, typ string, value any, fn func(context.Context), scoped bool) *execution {
	parent, ctx := parentOf(ctx)
	hs := active.Load()
	pe := rootEnv(hs)
	if parent != nil {
		pe = parent.env
		if !scoped {
			scoped = pe.scope == nil && pe.values != nil ||
				pe.scope != nil && pe.scope.frame.env.values != pe.values
		}
	}
	var e *execution
	switch {
	case scoped && ambientSupported:
		se := &scopedExecution{}
		se.env = env{values: pe.values, scope: &se.scope, hooks: hs}
		se.scope.init(&se.frame, typ, baseLabels(pe.scope))
		e = &se.execution
		e.frame.env = &se.env
	case pe.hooks != hs:
		ee := &envExecution{}
		ee.env = env{values: pe.values, scope: pe.scope, hooks: hs}
		e = &ee.execution
		e.frame.env = &ee.env
	default:
		e = &execution{}
		e.frame.env = pe
	}
	f := &e.frame
	e.fn = fn
	f.Context = ctx
	if hs != nil {
		// The hooks see the ID now; nothing else can have f yet. A parent
		// asked for the first time gets its ID before its child does.
		var trigger uint64
		if parent != nil {
			trigger = parent.ID()
		}
		f.id = newID()
		hs.init(ctx, f, typ, value, trigger, 0)
	}
	return e
}

// derive makes f a frame of ctx's execution: the same identity and env,
// not the lifecycle (hooks), with ctx as its context.
func derive(f *frame, ctx context.Context) {
	parent, ctx := parentOf(ctx)
	f.Context, f.id = ctx, noResource
	if parent != nil {
		if id := parent.ID(); id != 0 {
			f.id = id
		}
		f.env = parent.env
	} else {
		f.env = rootEnv(active.Load())
	}
}

// scopedFrame is a frame with a scope of its own, in one allocation.
type scopedFrame struct {
	frame frame
	env   env
	scope scope
}

// run opens the frame's scope on the calling goroutine and calls fn in it.
func (sf *scopedFrame) run(fn func(context.Context)) {
	f := &sf.frame
	if ambientSupported {
		outer := f.env.scope
		e := *f.env // f.env may be &sf.env already: copy before writing
		e.scope = &sf.scope
		sf.env = e
		sf.scope.init(f, outer.typ(), baseLabels(outer))
		f.env = &sf.env
	}
	if prev, swapped := f.env.scope.enter(); swapped {
		defer setLabels(prev)
	}
	fn(f)
}

// Run calls fn with ctx made ambient on the calling goroutine until fn
// returns: code without a ctx then sees, through Ambient, everything ctx
// carries (store values, and also the current span, baggage or any other
// context value). Work started from ctx inherits it as usual.
func Run(ctx context.Context, fn func(ctx context.Context)) {
	sf := &scopedFrame{}
	derive(&sf.frame, ctx)
	sf.run(fn)
}

// startExecution runs e's one callback, then destroys it. It is what an
// execution made a func() calls (see launch.go).
func startExecution(e *execution) {
	if env := e.frame.env; env.hooks == nil && env.scope == nil {
		e.fn(&e.frame) // run has nothing to do around it
		return
	}
	e.frame.run(e.fn, true)
}

// start is startExecution as a method, for method values.
func (e *execution) start() { startExecution(e) }

// run executes fn as one callback of f's resource on the calling goroutine:
// f's scope is ambient while fn runs, Before and After bracket it, and, if
// last is set, Destroy follows. A panic in fn still emits After and Destroy,
// then propagates.
func (f *frame) run(fn func(context.Context), last bool) {
	hs := f.env.hooks
	prev, swapped := f.env.scope.enter()
	if hs == nil && !swapped {
		fn(f) // nothing to do afterwards, even if fn panics
		return
	}
	if hs != nil {
		hs.emit(before, f.id, 0)
	}
	defer func() {
		if hs != nil {
			hs.emit(after, f.id, 0)
		}
		if swapped {
			setLabels(prev)
		}
		if last && hs != nil {
			hs.emit(destroy, f.id, 0)
		}
	}()
	fn(f)
}

// destroy emits Destroy for a resource whose callback will never run.
func (f *frame) destroy() {
	if hs := f.env.hooks; hs != nil {
		hs.emit(destroy, f.id, 0)
	}
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

// Ambient returns the context of the innermost scope visible to the calling
// goroutine without a ctx, or context.Background() if there is none. It is
// for code that holds no context.Context; code that holds one should use it.
//
// A scope is visible inside every callback this package runs and inside
// goroutines started with a plain go statement from one. See the package
// documentation for what opens a scope and for the gaps.
func Ambient() context.Context {
	if s := ambientScope(); s != nil {
		return s.frame
	}
	return context.Background()
}

// CurrentExecutionID is ExecutionID(Ambient()): Node.js's executionAsyncId.
func CurrentExecutionID() uint64 {
	if s := ambientScope(); s != nil {
		return s.frame.ID()
	}
	return 0
}

// CurrentTriggerID is TriggerID(Ambient()): Node.js's triggerAsyncId.
func CurrentTriggerID() uint64 {
	if s := ambientScope(); s != nil {
		return s.frame.trigger()
	}
	return 0
}
