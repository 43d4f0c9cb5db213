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
// it received, and only while it is enabled. Enable and Disable may be called
// at any time from any goroutine, also while tracked work runs.
type Hook struct {
	funcs   HookFuncs
	enabled atomic.Bool
}

// NewHook returns a disabled hook with the given callbacks.
func NewHook(funcs HookFuncs) *Hook { return &Hook{funcs: funcs} }

// Enable starts delivering events to h. It returns h.
func (h *Hook) Enable() *Hook {
	hooksMu.Lock()
	defer hooksMu.Unlock()
	if h.enabled.Load() {
		return h
	}
	h.enabled.Store(true)
	var hooks []*Hook
	if cur := active.Load(); cur != nil {
		hooks = append(hooks, cur.hooks...)
	}
	active.Store(&hookSet{hooks: append(hooks, h)})
	return h
}

// Disable stops delivering events to h. It returns h.
func (h *Hook) Disable() *Hook {
	hooksMu.Lock()
	defer hooksMu.Unlock()
	if !h.enabled.Load() {
		return h
	}
	h.enabled.Store(false)
	cur := active.Load()
	hooks := make([]*Hook, 0, len(cur.hooks)-1)
	for _, o := range cur.hooks {
		if o != h {
			hooks = append(hooks, o)
		}
	}
	if len(hooks) == 0 {
		active.Store(nil)
		return h
	}
	active.Store(&hookSet{hooks: hooks})
	return h
}

// Enabled reports whether h is enabled.
func (h *Hook) Enabled() bool { return h.enabled.Load() }

var (
	hooksMu sync.Mutex // serializes Enable and Disable
	// active is the set of enabled hooks, nil when there is none: the one
	// atomic load that tracked work pays when nobody is listening.
	active atomic.Pointer[hookSet]
)

// hookSet is an immutable list of the hooks enabled at some moment. A resource
// keeps the set that saw its Init, so that its later events reach exactly
// those hooks (minus the ones disabled since).
type hookSet struct{ hooks []*Hook }

func (s *hookSet) init(ctx context.Context, f *frame, value any) {
	for _, h := range s.hooks {
		if fn := h.funcs.Init; fn != nil && h.enabled.Load() {
			callInit(fn, ctx, f, value)
		}
	}
}

func (s *hookSet) before(id uint64) {
	for _, h := range s.hooks {
		if fn := h.funcs.Before; fn != nil && h.enabled.Load() {
			callID(fn, id, "Before")
		}
	}
}

func (s *hookSet) after(id uint64) {
	for _, h := range s.hooks {
		if fn := h.funcs.After; fn != nil && h.enabled.Load() {
			callID(fn, id, "After")
		}
	}
}

func (s *hookSet) destroy(id uint64) {
	for _, h := range s.hooks {
		if fn := h.funcs.Destroy; fn != nil && h.enabled.Load() {
			callID(fn, id, "Destroy")
		}
	}
}

func callInit(fn func(context.Context, uint64, string, uint64, any), ctx context.Context, f *frame, value any) {
	defer recoverHook("Init", f.id)
	fn(ctx, f.id, f.typ, f.trigger, value)
}

func callID(fn func(uint64), id uint64, event string) {
	defer recoverHook(event, id)
	fn(id)
}

func recoverHook(event string, id uint64) {
	if v := recover(); v != nil {
		otel.Handle(fmt.Errorf("asynctrack: %s hook panicked for resource %d: %v", event, id, v))
	}
}
