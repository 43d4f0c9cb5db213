// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelctx/otelctx/internal/report"
)

type hookKey string

// ctxHook returns an enabled hook whose Context adds key=value for each
// resource (and appends key to order), or does what bad says instead.
func ctxHook(t *testing.T, key hookKey, order *[]hookKey, mu *sync.Mutex, bad string) *Hook {
	h := NewHook(HookFuncs{Context: func(ctx context.Context, id uint64) context.Context {
		mu.Lock()
		*order = append(*order, key)
		mu.Unlock()
		switch bad {
		case "panic":
			panic("context boom")
		case "nil":
			return nil
		}
		// What the hook sees so far: the hooks enabled before it.
		return context.WithValue(ctx, key, fmt.Sprintf("%s/%d/saw:%s", key, id, seen(ctx)))
	}}).Enable()
	t.Cleanup(func() { h.Disable() })
	return h
}

func seen(ctx context.Context) string {
	s := ""
	for _, k := range []hookKey{"a", "b"} {
		if ctx.Value(k) != nil {
			s += string(k)
		}
	}
	return s
}

func TestHookContextReachesCallbacks(t *testing.T) {
	requireAmbient(t)
	report.SetHandler(func(error) {})
	t.Cleanup(func() { report.SetHandler(nil) })
	var mu sync.Mutex
	var order []hookKey
	ctxHook(t, "a", &order, &mu, "")
	ctxHook(t, "p", &order, &mu, "panic")
	ctxHook(t, "n", &order, &mu, "nil")
	ctxHook(t, "b", &order, &mu, "")

	type seenBy struct {
		a, b, ambientA, plainB any
		id                     uint64
	}
	// A root's hooks see nothing before them but the hooks enabled earlier,
	// and so do a child's started from the ctx its parent's callback was
	// given: the hooks' additions belong to the parent, the child gets its
	// own instead. A child started from a ctx the user derived from that one
	// keeps what the user's ctx shows, the parent's additions included.
	check := func(t *testing.T, got seenBy, parentID uint64, wrapped bool) {
		sawA, sawB := "", "a"
		if wrapped {
			sawA, sawB = "ab", "ab"
		}
		assert.Equal(t, fmt.Sprintf("a/%d/saw:%s", got.id, sawA), got.a, "each resource gets its own context")
		assert.Equal(t, fmt.Sprintf("b/%d/saw:%s", got.id, sawB), got.b, "later hooks compose on earlier ones; a panic or nil in between changes nothing")
		assert.Equal(t, got.a, got.ambientA, "code without a ctx sees the hook's context")
		assert.Equal(t, got.b, got.plainB, "and so does a plain go statement inside")
		assert.NotZero(t, got.id)
		assert.NotEqual(t, parentID, got.id, "the callback's ctx is still the resource's own execution")
	}
	observe := func(ctx context.Context) seenBy {
		plain := make(chan any, 1)
		go func() { plain <- Ambient().Value(hookKey("b")) }()
		return seenBy{a: ctx.Value(hookKey("a")), b: ctx.Value(hookKey("b")),
			ambientA: Ambient().Value(hookKey("a")), plainB: <-plain, id: ExecutionID(ctx)}
	}

	req := NewResource(context.Background(), "http.request", nil)
	defer req.Destroy()
	req.Run(func(ctx context.Context) {
		check(t, observe(ctx), 0, false)
		parent := ExecutionID(ctx)
		for name, start := range map[string]func(ctx context.Context, fn func(context.Context)){
			"goroutine": func(ctx context.Context, fn func(context.Context)) {
				done := make(chan struct{})
				Go(ctx, func(ctx context.Context) { defer close(done); fn(ctx) })
				<-done
			},
			"timer": func(ctx context.Context, fn func(context.Context)) {
				done := make(chan struct{})
				AfterFunc(ctx, time.Millisecond, func(ctx context.Context) { defer close(done); fn(ctx) })
				<-done
			},
			"task": func(ctx context.Context, fn func(context.Context)) { Bind(ctx, fn)() },
			"resource": func(ctx context.Context, fn func(context.Context)) {
				r := NewResource(ctx, "job", nil)
				defer r.Destroy()
				r.Run(fn)
			},
		} {
			t.Run(name, func(t *testing.T) {
				var got seenBy
				start(ctx, func(ctx context.Context) { got = observe(ctx) })
				check(t, got, parent, false)
				start(context.WithValue(ctx, hookKey("user"), 1), func(ctx context.Context) { got = observe(ctx) })
				check(t, got, parent, true)
			})
		}
	})
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, order)
	assert.Equal(t, []hookKey{"a", "p", "n", "b"}, order[:4], "in enable order")
}
