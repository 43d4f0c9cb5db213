// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// depthKey asks a depthProbe for the depth of the call stack of the lookup.
type depthKey struct{}

// depthProbe is a context at the bottom of a chain that measures how many
// layers a lookup went through before reaching it: every frame of this
// package and every hookLayer above it adds stack frames to a Value lookup,
// and every hookLayer to an Err call. (A frame's Err is promoted from its
// Context: the wrapper the compiler makes for it is not on the stacks that
// runtime.Callers shows, but it follows the same links as Value.)
type depthProbe struct {
	context.Context
	errDepth *atomic.Int64
}

func (p depthProbe) Value(key any) any {
	if key == (depthKey{}) {
		return stackDepth()
	}
	return p.Context.Value(key)
}

func (p depthProbe) Err() error {
	p.errDepth.Store(int64(stackDepth()))
	return p.Context.Err()
}

func stackDepth() int { return runtime.Callers(0, make([]uintptr, 1<<16)) }

type rearmKey string

// hookLayer is what the test's hook adds to each timer's context, as the
// exporter adds its span: a layer with methods of its own, so that each one
// shows on the stack of a lookup.
type hookLayer struct {
	context.Context
	id uint64
}

func (l hookLayer) Value(key any) any {
	if key == rearmKey("hook") {
		return l.id
	}
	return l.Context.Value(key)
}

func (l hookLayer) Err() error { return l.Context.Err() }

// rearm runs tick as a timer that re-arms itself from the ctx it receives,
// firings times, as Node's setInterval, and returns what the first and the
// last callback measured.
type rearmed struct {
	valueDepth, errDepth [2]int // first, last
	ids, triggers        []uint64
	values               []string // store, user and hook values, per firing
}

func rearm(t *testing.T, ctx context.Context, firings int, store *Store[string], errDepth *atomic.Int64) rearmed {
	t.Helper()
	var r rearmed
	done := make(chan struct{})
	n := 0
	var tick func(ctx context.Context)
	tick = func(ctx context.Context) {
		if n == 0 || n == firings-1 {
			i := min(n, 1)
			r.valueDepth[i] = ctx.Value(depthKey{}).(int)
			_ = ctx.Err()
			r.errDepth[i] = int(errDepth.Load())
			v, _ := store.Value(ctx)
			hook, _ := ctx.Value(rearmKey("hook")).(uint64)
			r.ids = append(r.ids, ExecutionID(ctx))
			r.triggers = append(r.triggers, TriggerID(ctx))
			r.values = append(r.values, v, ctx.Value(rearmKey("user")).(string))
			if hook != 0 {
				assert.Equal(t, ExecutionID(ctx), hook, "the hook's addition is the resource's own")
			}
		}
		if n == firings-2 {
			r.ids = append(r.ids, ExecutionID(ctx)) // the last one's trigger
		}
		if n++; n == firings {
			close(done)
			return
		}
		AfterFunc(ctx, 0, tick)
	}
	AfterFunc(ctx, 0, tick)
	<-done
	return r
}

// TestRearmingTimerKeepsItsContextChain: a timer that re-arms itself from
// its ctx, with a hook that adds to each timer's context as the exporter
// adds its span, looks values up and checks its cancellation through as
// many layers at the last firing as at the first, and keeps its trigger
// IDs, values and hook additions right.
func TestRearmingTimerKeepsItsContextChain(t *testing.T) {
	const firings = 5_000
	for _, hooked := range []bool{false, true} {
		t.Run(map[bool]string{false: "no hook", true: "hook"}[hooked], func(t *testing.T) {
			if hooked {
				h := NewHook(HookFuncs{Context: func(ctx context.Context, id uint64) context.Context {
					return hookLayer{ctx, id}
				}}).Enable()
				t.Cleanup(func() { h.Disable() })
			}
			var errDepth atomic.Int64
			base := context.WithValue(depthProbe{context.Background(), &errDepth}, rearmKey("user"), "u")
			store := NewStore[string]()
			var r rearmed
			start := NewResource(base, "start-up", nil)
			defer start.Destroy()
			start.Run(func(ctx context.Context) {
				store.Run(ctx, "s", func(ctx context.Context) {
					r = rearm(t, ctx, firings, store, &errDepth)
				})
			})
			assert.Equal(t, r.valueDepth[0], r.valueDepth[1], "a lookup goes through as many layers at the last firing as at the first")
			assert.Equal(t, r.errDepth[0], r.errDepth[1], "and so does Err")
			require.Len(t, r.ids, 3)
			assert.Equal(t, r.ids[1], r.triggers[1], "the last firing was triggered by the one before")
			assert.NotEqual(t, r.ids[0], r.ids[2])
			assert.NotZero(t, r.triggers[0])
			assert.Equal(t, []string{"s", "u", "s", "u"}, r.values)
		})
	}
}

// TestRearmingKeepsWhatTheUserDerived: a ctx the user derives from a
// callback's ctx (a value, a cancellation) reaches the work started from
// it, and from that work's callbacks in turn; only frames directly on
// frames are collapsed.
func TestRearmingKeepsWhatTheUserDerived(t *testing.T) {
	store := NewStore[string]()
	cause := errors.New("stopped")
	type seen struct {
		err, cause  error
		user, v     any
		id, trigger uint64
	}
	got := make(chan seen, 1)
	var firstID uint64
	store.Run(context.Background(), "s", func(ctx context.Context) {
		done := make(chan struct{})
		AfterFunc(ctx, 0, func(ctx context.Context) {
			defer close(done)
			firstID = ExecutionID(ctx)
			derived, cancel := context.WithCancelCause(context.WithValue(ctx, rearmKey("user"), "u"))
			release := make(chan struct{})
			// Derived once more by this package (Store.With) before the
			// timer: still the user's cancellation and value.
			AfterFunc(store.With(derived, "inner"), 0, func(ctx context.Context) {
				<-release
				AfterFunc(ctx, 0, func(ctx context.Context) { // re-armed from its own ctx
					v, _ := store.Value(ctx)
					got <- seen{err: ctx.Err(), cause: context.Cause(ctx), user: ctx.Value(rearmKey("user")), v: v,
						id: ExecutionID(ctx), trigger: TriggerID(ctx)}
				})
			})
			cancel(cause)
			close(release)
		})
		<-done
	})
	s := <-got
	assert.ErrorIs(t, s.err, context.Canceled, "the user's cancellation reaches work started from its ctx")
	assert.Equal(t, cause, s.cause)
	assert.Equal(t, "u", s.user)
	assert.Equal(t, "inner", s.v)
	assert.NotZero(t, s.trigger)
	assert.NotEqual(t, firstID, s.trigger, "triggered by the timer in between, not the first")
	assert.NotEqual(t, s.id, s.trigger)
}

// TestRearmingWithAStoreValuePerFiring: work that sets a store value on each
// firing before re-arming keeps one value of that store, not one per firing.
func TestRearmingWithAStoreValuePerFiring(t *testing.T) {
	const firings = 1_000
	store, other := NewStore[int](), NewStore[string]()
	lengths := make(chan int, firings)
	var tick func(ctx context.Context)
	tick = func(ctx context.Context) {
		n, _ := store.Value(ctx)
		store.Run(ctx, n+1, func(ctx context.Context) {
			length := 0
			for b := frameOf(ctx).values; b != nil; b = b.next {
				length++
			}
			lengths <- length
			if n+1 < firings {
				AfterFunc(ctx, 0, tick)
			}
		})
	}
	AfterFunc(other.With(context.Background(), "kept"), 0, tick)
	var first, last int
	for i := range firings {
		l := <-lengths
		if i == 0 {
			first = l
		}
		last = l
	}
	assert.Equal(t, 2, first, "the other store's value and this one's")
	assert.Equal(t, first, last)
}
