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
// of its own: every core writes it.
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
// A frame holds two words beside its Context, so that a goroutine started by
// Go is 32 bytes (see goroutine): its env, which it usually shares with the
// frame it was created from, and nothing else. It stores no trigger ID: its
// Context always carries the frame of the execution it was created from (see
// parentOf), and asking for the trigger is rare enough to walk there. Where
// its own ID is kept, ID explains.
type frame struct {
	context.Context // the context the work was created from
	// w is the frame's *env, read with env. A goroutine's holds its callback
	// instead until it starts: nothing can see the frame before that.
	w unsafe.Pointer
}

// env returns f's env. It changes once at most: when f is asked for its ID
// and had none (see ID).
func (f *frame) env() *env { return (*env)(atomic.LoadPointer(&f.w)) }

// ID returns the ID of f's resource, or 0 if it has none. An ID is kept in
// one of three places:
//
//   - in f's env, when f owns it: a frame with a scope or store values of its
//     own, or one whose ID was asked for. 0 there means that f belongs to no
//     resource: it was derived from a context without an execution, by Run,
//     Store.Run or Store.With.
//   - after f in its execution, when f shares an env made while a hook was
//     enabled: the hooks saw the ID at creation (see execution);
//   - nowhere yet, for a goroutine that shares its parent's env and that no
//     hook saw created. Its ID is taken when something first asks for it,
//     which most goroutines never do: f then gets an env of its own that
//     holds it. Taking an ID at every spawn would be most of what Go adds to
//     a go statement after its allocation.
//
// Either way the ID is unique and never changes.
func (f *frame) ID() uint64 {
	if e := f.env(); e.owner == f {
		return e.id // inlined: the case of every scope and Store.Run
	}
	return f.sharedEnvID()
}

// sharedEnvID is ID for a frame that does not own its env.
func (f *frame) sharedEnvID() uint64 {
	for {
		e := f.env()
		if e.owner == f {
			return e.id
		}
		if e.hooks != nil {
			return executionOf(f).id
		}
		own := &env{values: e.values, scope: e.scope, owner: f, id: newID()}
		if atomic.CompareAndSwapPointer(&f.w, unsafe.Pointer(e), unsafe.Pointer(own)) {
			return own.id
		}
		// Another goroutine asked first; its env is f's now, and own.id goes
		// unused.
	}
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
// usually points to its parent's, which keeps it at 32 bytes.
type env struct {
	values *binding // store values, innermost first
	scope  *scope   // what code without a ctx resolves to; nil if none
	// hooks are the hooks enabled when the env was made: for an execution,
	// those that saw its Init and receive its other events.
	hooks *hookSet
	// owner is the frame the env was made for, if any, and id its ID; the
	// frames that share the env keep theirs elsewhere (see frame.ID).
	owner *frame
	id    uint64
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

// needsScope reports whether work started under e needs a scope of its own
// so that code without a ctx sees e's values: e's values are not those of the
// scope it runs in (e comes from Store.With). Without ambient lookups, no
// work does.
func (e *env) needsScope() bool {
	if !ambientSupported {
		return false
	}
	if e.scope == nil {
		return e.values != nil
	}
	return e.scope.values != e.values
}

type frameKey struct{}

// Value returns f for the package's own key and, for pprof's label key, the
// label set of f's scope, so that pprof.Do on a frame keeps the ambient scope.
func (f *frame) Value(key any) any {
	if key == (frameKey{}) {
		return f
	}
	if sc := f.env().scope; sc != nil && sc.frame == f && isLabelKey(key) {
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
	if f, ok := ctx.(*frame); ok {
		return f, ctx // a callback's own ctx: the common case, and the cheapest
	}
	bare := isBare(ctx)
	if !bare {
		if f, _ := ctx.Value(frameKey{}).(*frame); f != nil {
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

// goroutine is the resource Go starts in the common case: no hook is
// enabled and it shares its parent's env, found from its Context at start.
// It is a frame made a func() (see launch.go), in one allocation of 32 bytes
// (48 where launch_asm.go is not built): the only one Go adds to a go
// statement. Until it starts, its frame holds its callback in place of the
// env.
type goroutine struct {
	closure closureHeader // first: makes *goroutine a func() once set
	frame   frame
}

// execution is every other resource that this package runs: a frame, its ID
// and the callback, in 48 bytes (64 where launch_asm.go is not built).
type execution struct {
	closure closureHeader // first: makes *execution a func() once set
	frame   frame
	// id is the ID if a hook saw the execution created or it owns its env;
	// else 0, and ID takes one when asked. It follows frame: see executionOf.
	id uint64
	fn func(context.Context)
}

// executionOf returns the execution whose frame f is. frame.ID calls it only
// for a frame that shares an env made while a hook was enabled, and only an
// execution's frame does: every other frame made then owns its env.
func executionOf(f *frame) *execution {
	return (*execution)(unsafe.Add(unsafe.Pointer(f), -int(unsafe.Offsetof(execution{}.frame))))
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

// sharesEnv reports whether a goroutine created from ctx, whose frame is
// parent, can be a goroutine rather than an execution: it shares parent's
// env, which no hook saw made, and can find it again from ctx at start
// without a Value walk (see inheritedEnv).
func sharesEnv(parent *frame, ctx context.Context) bool {
	switch ctx.(type) {
	case *frame, *link:
		pe := parent.env()
		return pe.hooks == nil && !pe.needsScope()
	}
	return false
}

// inheritedEnv returns the env a goroutine created from ctx shares: that of
// ctx's frame, or, if ctx carries none, the one of work with no values.
func inheritedEnv(ctx context.Context) *env {
	switch c := ctx.(type) {
	case *frame:
		return c.env()
	case *link:
		return c.frame.env()
	}
	return emptyEnv
}

// startGoroutine runs g's callback in g's scope, then destroys it. It is
// what a goroutine made a func() calls (see launch.go).
func startGoroutine(g *goroutine) {
	f := &g.frame
	fn := *(*func(context.Context))(unsafe.Pointer(&f.w))
	e := inheritedEnv(f.Context)
	f.w = unsafe.Pointer(e) // a plain store: nothing else has f yet
	if e.scope == nil {
		fn(f) // no hooks, no scope: run has nothing to do around it
		return
	}
	f.run(0, fn, true)
}

// start is startGoroutine as a method, for method values.
func (g *goroutine) start() { startGoroutine(g) }

// newExecution creates a resource of type typ triggered by ctx's execution,
// to run fn, and emits Init. The resource gets a scope of its own, so that
// code without a ctx inside it sees its ID, if scoped is set. Otherwise it
// shares the scope it was created in, unless that scope's values are not
// ctx's (ctx came from Store.With): code without a ctx always sees the values
// of the ctx its work was started from. See "Scopes" in the package docs.
func newExecution(ctx context.Context, typ string, value any, fn func(context.Context), scoped bool) *execution {
	parent, ctx := parentOf(ctx)
	return newExecutionOf(parent, ctx, typ, value, fn, scoped)
}

// newExecutionOf is newExecution for a ctx resolved by parentOf.
func newExecutionOf(parent *frame, ctx context.Context, typ string, value any, fn func(context.Context), scoped bool) *execution {
	hs := active.Load()
	pe := rootEnv(hs)
	if parent != nil {
		pe = parent.env()
		scoped = scoped || pe.needsScope()
	}
	var id, trigger uint64
	if hs != nil {
		// The hooks see the ID now; nothing else can have the execution
		// yet. A parent asked for the first time gets its ID before its
		// child does.
		if parent != nil {
			trigger = parent.ID()
		}
		id = newID()
	}
	var e *execution
	switch {
	case scoped && ambientSupported: // without ambient lookups, a scope shows nothing
		se := &scopedExecution{}
		e = &se.execution
		id = ownID(id)
		se.env = env{values: pe.values, scope: &se.scope, hooks: hs, owner: &e.frame, id: id}
		se.scope.init(&e.frame, pe.values, typ, baseLabels(pe.scope))
		e.frame.w = unsafe.Pointer(&se.env)
	case pe.hooks != hs:
		ee := &envExecution{}
		e = &ee.execution
		id = ownID(id)
		ee.env = env{values: pe.values, scope: pe.scope, hooks: hs, owner: &e.frame, id: id}
		e.frame.w = unsafe.Pointer(&ee.env)
	default:
		e = &execution{}
		e.frame.w = unsafe.Pointer(pe)
	}
	e.frame.Context, e.id, e.fn = ctx, id, fn
	if hs != nil {
		hs.init(ctx, id, typ, value, trigger, 0)
	}
	return e
}

// ownID returns id, or a new ID if it is 0: an env that a frame owns holds
// its ID from the start.
func ownID(id uint64) uint64 {
	if id == 0 {
		return newID()
	}
	return id
}

// derive makes f a frame of ctx's execution, with e, which it owns, as its
// env: the same identity and values, not the lifecycle (hooks), with ctx as
// its context. The caller may still change e.
func derive(f *frame, e *env, ctx context.Context) {
	parent, ctx := parentOf(ctx)
	f.Context = ctx
	if parent != nil {
		*e = *parent.env()
		e.id = parent.ID() // 0 if parent belongs to no resource either
	} else {
		*e = *rootEnv(active.Load())
		e.id = 0
	}
	e.owner = f
	f.w = unsafe.Pointer(e)
}

// scopedFrame is a frame with a scope of its own, in one allocation.
type scopedFrame struct {
	frame frame
	env   env
	scope scope
}

// run opens the frame's scope on the calling goroutine and calls fn in it.
// derive has made sf.env the frame's env.
func (sf *scopedFrame) run(fn func(context.Context)) {
	f := &sf.frame
	if ambientSupported {
		outer := sf.env.scope
		sf.env.scope = &sf.scope
		sf.scope.init(f, sf.env.values, outer.typ(), baseLabels(outer))
	}
	if prev, swapped := sf.env.scope.enter(); swapped {
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
	derive(&sf.frame, &sf.env, ctx)
	sf.run(fn)
}

// startExecution runs e's one callback, then destroys it. It is what an
// execution made a func() calls (see launch.go).
func startExecution(e *execution) {
	if env := e.frame.env(); env.hooks == nil && env.scope == nil {
		e.fn(&e.frame) // run has nothing to do around it
		return
	}
	e.frame.run(e.id, e.fn, true)
}

// start is startExecution as a method, for method values.
func (e *execution) start() { startExecution(e) }

// run executes fn as one callback of f's resource, whose ID is id, on the
// calling goroutine: f's scope is ambient while fn runs, Before and After
// bracket it, and, if last is set, Destroy follows, still in the scope. A
// panic in fn still emits After and Destroy, then propagates. id matters
// only if a hook saw the resource created.
func (f *frame) run(id uint64, fn func(context.Context), last bool) {
	e := f.env()
	hs := e.hooks
	prev, swapped := e.scope.enter()
	if hs == nil && !swapped {
		fn(f) // nothing to do afterwards, even if fn panics
		return
	}
	if hs != nil {
		hs.emit(before, id, false, 0)
	}
	defer func() {
		if hs != nil {
			hs.emit(after, id, last, 0)
		}
		if swapped {
			setLabels(prev)
		}
	}()
	fn(f)
}

// destroy emits Destroy for a resource whose callback will never run.
func (f *frame) destroy() {
	if hs := f.env().hooks; hs != nil {
		hs.emit(destroy, f.ID(), false, 0)
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
