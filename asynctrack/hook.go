// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"sync"
	"sync/atomic"
)

// HookFuncs are the callbacks of a [Hook]. Any of them may be nil.
//
// Callbacks run synchronously on the goroutine that caused the event, so they
// must be fast and must not block. A panic in a callback is recovered and
// reported at a bounded rate (see the package documentation); the tracked
// work and the other hooks go on.
type HookFuncs struct {
	// Init is called once, on the creating goroutine, when a resource is
	// created. ctx is the context the resource was created from, so a hook can
	// read the span or values that were current. resource is the resource
	// value: the callback (a func(context.Context), or a Group's
	// func(context.Context) error) for a goroutine, task or timer, the value
	// given to NewResource for a user resource.
	Init func(ctx context.Context, id uint64, typ string, triggerID uint64, resource any)
	// Context, if set, is called right after Init, on the creating goroutine,
	// and returns the context the resource's callbacks receive and that code
	// inside them sees ambiently: ctx, the one its callbacks would receive so
	// far, with what the hook adds, such as the resource's span. It is what a
	// Node.js hook does by setting properties on the resource that
	// executionAsyncResource returns. Hooks compose in the order they were
	// enabled; a Context that panics or returns nil leaves ctx as it was.
	//
	// What hooks add belongs to the resource, not to what it starts: when
	// the resource is created from a callback's ctx as given (a frame of
	// this package), ctx is the context that frame's own resource started
	// from, without what the hooks added for that resource, and the
	// additions for the new resource replace those. A hook that needs the
	// trigger's additions (its span, to parent a new one) reads them in
	// Init, which receives the ctx the resource was created from. So work
	// that re-arms itself from its ctx carries one resource's additions, not
	// one per firing. A resource whose hooks add nothing keeps its
	// trigger's.
	//
	// Only resources created while such a hook is enabled pay for it: their
	// callbacks run in a scope of their own.
	Context func(ctx context.Context, id uint64) context.Context
	// Before is called on the executing goroutine just before each execution
	// of the resource's callback: 0..N times, properly nested with After.
	Before func(id uint64)
	// After is called on the executing goroutine just after each execution of
	// the resource's callback, also when the callback panics.
	After func(id uint64)
	// Destroy is called exactly once per resource, after its last After:
	// on the goroutine that ends the resource (see the package doc), or, for
	// a Resource garbage collected without Destroy, on the runtime's cleanup
	// goroutine, in no scope.
	Destroy func(id uint64)
}

// Hook receives the lifecycle events of async resources while it is enabled.
// It is the equivalent of Node.js async_hooks.createHook.
//
// A hook receives Before, After and Destroy only for the resources whose Init
// it received, and only while it stays enabled: after Disable, enabling it
// again starts afresh with resources created from then on. Enable and Disable
// may be called at any time from any goroutine, also while tracked work runs.
type Hook struct {
	funcs HookFuncs
	// state counts Enable and Disable calls: odd while enabled. A snapshot
	// of the enabled hooks records each hook's state, so that a hook that was
	// disabled and enabled again gets no events for resources from before.
	state atomic.Uint64
}

// NewHook returns a disabled hook with the given callbacks.
func NewHook(funcs HookFuncs) *Hook { return &Hook{funcs: funcs} }

// Enable starts delivering events to h. It returns h.
func (h *Hook) Enable() *Hook {
	hooksMu.Lock()
	defer hooksMu.Unlock()
	if h.Enabled() {
		return h
	}
	h.state.Add(1)
	var entries []hookEntry
	if cur := active.Load(); cur != nil {
		entries = append(entries, cur.entries...)
	}
	active.Store(newHookSet(append(entries, newHookEntry(h))))
	return h
}

// Disable stops delivering events to h. It returns h.
func (h *Hook) Disable() *Hook {
	hooksMu.Lock()
	defer hooksMu.Unlock()
	if !h.Enabled() {
		return h
	}
	h.state.Add(1)
	cur := active.Load()
	entries := make([]hookEntry, 0, len(cur.entries)-1)
	for _, e := range cur.entries {
		if e.hook != h {
			entries = append(entries, e)
		}
	}
	if len(entries) == 0 {
		active.Store(nil)
		return h
	}
	active.Store(newHookSet(entries))
	return h
}

// Enabled reports whether h is enabled.
func (h *Hook) Enabled() bool { return h.state.Load()%2 == 1 }

var (
	hooksMu sync.Mutex // serializes Enable and Disable
	// active is the set of enabled hooks, nil when there is none: the one
	// atomic load that tracked work pays when nobody is listening.
	active atomic.Pointer[hookSet]
)

// hookSet is an immutable list of the hooks enabled at some moment. A resource
// keeps the set that saw its Init, so that its later events reach exactly
// those hooks, as long as they stay enabled.
type hookSet struct {
	entries []hookEntry
}

func newHookSet(entries []hookEntry) *hookSet { return &hookSet{entries: entries} }

type hookEntry struct {
	hook  *Hook
	state uint64 // hook.state when the set was made
	// The callbacks of hook, copied here for the events' loops.
	init func(context.Context, uint64, string, uint64, any)
	ctx  func(context.Context, uint64) context.Context
	byID [numIDEvents]func(uint64)
}

func newHookEntry(h *Hook) hookEntry {
	return hookEntry{
		hook: h, state: h.state.Load(), init: h.funcs.Init, ctx: h.funcs.Context,
		byID: [numIDEvents]func(uint64){h.funcs.Before, h.funcs.After, h.funcs.Destroy},
	}
}

// hookEvent is a lifecycle event, for the error handler.
type hookEvent uint8

const (
	before hookEvent = iota
	after
	destroy
	numIDEvents
	initEvent = numIDEvents
	ctxEvent  = numIDEvents + 1
	numEvents = numIDEvents + 2
)

var eventNames = [numEvents]string{"Before", "After", "Destroy", "Init", "Context"}

// live reports whether e's hook is still enabled since the set was made.
func (e *hookEntry) live() bool { return e.hook.state.Load() == e.state }

// init emits Init for resource id, created from ctx, to the hooks of s,
// then lets the hooks with a Context callback derive the context of its
// callbacks from base, and returns that context. A panic in one hook is
// recovered and reported, and the hooks after it still run.
func (s *hookSet) init(ctx, base context.Context, id uint64, typ string, value any, trigger uint64) context.Context {
	derived := false
	for i := range s.entries {
		e := &s.entries[i]
		if !e.live() {
			continue
		}
		if e.init != nil {
			callInit(e.init, ctx, id, typ, trigger, value)
		}
		derived = derived || e.ctx != nil
	}
	if !derived {
		return base
	}
	for i := range s.entries {
		if e := &s.entries[i]; e.ctx != nil && e.live() {
			if c := callContext(e.ctx, base, id); c != nil {
				base = c
			}
		}
	}
	return base
}

func callInit(fn func(context.Context, uint64, string, uint64, any), ctx context.Context, id uint64, typ string, trigger uint64, value any) {
	defer recoverHook(initEvent, id)
	fn(ctx, id, typ, trigger, value)
}

func callContext(fn func(context.Context, uint64) context.Context, ctx context.Context, id uint64) context.Context {
	defer recoverHook(ctxEvent, id)
	return fn(ctx, id)
}

// emit emits ev for resource id to the hooks of s, as init does.
func (s *hookSet) emit(ev hookEvent, id uint64) {
	for i := range s.entries {
		if e := &s.entries[i]; e.byID[ev] != nil && e.live() {
			callID(e.byID[ev], ev, id)
		}
	}
}

func callID(fn func(uint64), ev hookEvent, id uint64) {
	defer recoverHook(ev, id)
	fn(id)
}

// recoverHook recovers a panic in a hook's callback for ev and reports it.
func recoverHook(ev hookEvent, id uint64) {
	if v := recover(); v != nil {
		reportPanic(ev, id, v)
	}
}
