package asynctrack

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
)

// HookFuncs are the callbacks of a [Hook]. Any of them may be nil.
//
// Callbacks run synchronously on the goroutine that caused the event, so they
// must be fast and must not block. A panic in a callback is recovered and
// reported through [otel.Handle]; the tracked work and the other hooks go on.
type HookFuncs struct {
	// Init is called once, on the creating goroutine, when a resource is
	// created. ctx is the context the resource was created from, so a hook can
	// read the span or values that were current (what a Node.js hook reads
	// through executionAsyncResource). resource is the resource value, or nil.
	Init func(ctx context.Context, id uint64, typ string, triggerID uint64, resource any)
	// Before is called on the executing goroutine just before each execution
	// of the resource's callback: 0..N times, properly nested with After.
	Before func(id uint64)
	// After is called on the executing goroutine just after each execution of
	// the resource's callback, also when the callback panics.
	After func(id uint64)
	// Destroy is called exactly once per resource, after its last After.
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
	root    env // the env of work with no values or scope started under the set
}

func newHookSet(entries []hookEntry) *hookSet {
	s := &hookSet{entries: entries}
	s.root.hooks = s
	return s
}

type hookEntry struct {
	hook  *Hook
	state uint64 // hook.state when the set was made
	// The callbacks of hook, copied here for the events' loops.
	init func(context.Context, uint64, string, uint64, any)
	byID [numIDEvents]func(uint64)
}

func newHookEntry(h *Hook) hookEntry {
	return hookEntry{
		hook: h, state: h.state.Load(), init: h.funcs.Init,
		byID: [numIDEvents]func(uint64){h.funcs.Before, h.funcs.After, h.funcs.Destroy},
	}
}

// idEvent is an event whose callback takes the resource ID alone.
type idEvent uint8

const (
	before idEvent = iota
	after
	destroy
	numIDEvents
)

var idEventNames = [numIDEvents]string{"Before", "After", "Destroy"}

// live reports whether e's hook is still enabled since the set was made.
func (e *hookEntry) live() bool { return e.hook.state.Load() == e.state }

// init emits Init for resource id to the hooks of s, from entry i on. A
// panic in one is recovered and reported, and the hooks after it still run;
// one deferred recover per event rather than per hook keeps the common case
// cheap.
func (s *hookSet) init(ctx context.Context, id uint64, typ string, value any, trigger uint64, i int) {
	defer func() {
		if v := recover(); v != nil {
			reportHookPanic("Init", id, v)
			s.init(ctx, id, typ, value, trigger, i+1)
		}
	}()
	for ; i < len(s.entries); i++ {
		if e := &s.entries[i]; e.init != nil && e.live() {
			e.init(ctx, id, typ, trigger, value)
		}
	}
}

// emit emits ev for resource id to the hooks of s, as init does, and then,
// if thenDestroy is set, Destroy: After and Destroy share one deferred
// recover. k counts the calls made so far, over the hooks for ev and then
// over them again for Destroy.
func (s *hookSet) emit(ev idEvent, id uint64, thenDestroy bool, k int) {
	n := len(s.entries)
	defer func() {
		if v := recover(); v != nil {
			name := idEventNames[ev]
			if k >= n {
				name = idEventNames[destroy]
			}
			reportHookPanic(name, id, v)
			s.emit(ev, id, thenDestroy, k+1)
		}
	}()
	for ; k < n; k++ {
		if e := &s.entries[k]; e.byID[ev] != nil && e.live() {
			e.byID[ev](id)
		}
	}
	if !thenDestroy {
		return
	}
	for ; k < 2*n; k++ {
		if e := &s.entries[k-n]; e.byID[destroy] != nil && e.live() {
			e.byID[destroy](id)
		}
	}
}

func reportHookPanic(event string, id uint64, v any) {
	otel.Handle(fmt.Errorf("asynctrack: %s hook panicked for resource %d: %v", event, id, v))
}
