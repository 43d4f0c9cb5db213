// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"

	"github.com/otelctx/otelctx/internal/scopehook"
)

func init() {
	scopehook.Enter = enter
	scopehook.HasFrame = func(ctx context.Context) bool { return frameOf(ctx) != nil }
}

// enter implements scopehook.Enter: Node.js's AsyncLocalStorage.enterWith for
// the scope ctx's execution runs in. Every goroutine that runs in that scope
// (the callback that opened it, plain go statements started from there, the
// tracked goroutines that share it) sees the new context from its next
// lookup on; work that runs in a scope of its own keeps what it started
// with.
func enter(ctx context.Context, update func(base, cur context.Context) context.Context) bool {
	sc := scopeOf(frameOf(ctx))
	if sc == nil {
		return false
	}
	for {
		old := sc.entered.Load()
		cur, _ := sc.current()
		next := update(sc.frame, cur)
		f := frameOf(next)
		if f == nil || f.res != sc.frame.res {
			return false // not derived from the scope's context
		}
		if sc.entered.CompareAndSwap(old, &entered{ctx: next, f: f}) {
			return sc.refs.Load() > 0
		}
	}
}

// scopeOf returns the open scope that frame f, or the frame of f's
// resource it was derived from, runs in; nil if there is none.
func scopeOf(f *frame) *scope {
	for p := f; p != nil && p.res == f.res; p = frameOf(p.Context) {
		if sc := p.scope; sc != nil {
			if sc.refs.Load() > 0 {
				return sc
			}
			return nil
		}
	}
	return nil
}

// shows reports whether code without a ctx in s sees the store values vs.
func (s *scope) shows(vs *binding) bool {
	if s.frame.values == vs {
		return true
	}
	_, f := s.current()
	return f.values == vs
}
