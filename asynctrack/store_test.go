// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"runtime/pprof"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireAmbient skips tests of the ambient path in builds without it.
func requireAmbient(t *testing.T) {
	t.Helper()
	if !linknameBuild {
		t.Skip("built with otelctx_nolinkname: ctx path only")
	}
	require.True(t, ambientSupported, "the ambient path failed its self-test on this Go version")
}

func TestAmbientSupportedOnThisGo(t *testing.T) {
	requireAmbient(t)
}

func TestStoreNestedRunsRestoreOuter(t *testing.T) {
	requireAmbient(t)
	s := NewStore[string]()
	_, ok := s.Current()
	assert.False(t, ok)
	s.Run(context.Background(), "outer", func(ctx context.Context) {
		s.Run(ctx, "inner", func(ctx context.Context) {
			assert.Equal(t, "inner", value(s.Value(ctx)))
			assert.Equal(t, "inner", value(s.Current()))
		})
		assert.Equal(t, "outer", value(s.Value(ctx)))
		assert.Equal(t, "outer", value(s.Current()))
	})
	_, ok = s.Current()
	assert.False(t, ok, "nothing is left behind on the goroutine")
}

func TestStoreChildChangeDoesNotLeak(t *testing.T) {
	requireAmbient(t)
	s := NewStore[string]()
	other := NewStore[int]()
	s.Run(context.Background(), "parent", func(ctx context.Context) {
		var wg sync.WaitGroup
		for i, name := range []string{"a", "b"} {
			wg.Add(1)
			Go(ctx, func(ctx context.Context) {
				defer wg.Done()
				s.Run(ctx, name, func(ctx context.Context) {
					other.Run(ctx, i, func(ctx context.Context) {
						assert.Equal(t, name, value(s.Current()))
						assert.Equal(t, i, value(other.Current()))
					})
				})
				assert.Equal(t, "parent", value(s.Current()), "sibling or own change visible after its run")
			})
		}
		wg.Wait()
		assert.Equal(t, "parent", value(s.Value(ctx)))
		_, ok := other.Value(ctx)
		assert.False(t, ok, "a child's value reached its parent")
	})
}

func TestStoreWithIsNotAmbientUntilRun(t *testing.T) {
	requireAmbient(t)
	s := NewStore[string]()
	ctx := s.With(context.Background(), "v")
	assert.Equal(t, "v", value(s.Value(ctx)))
	_, ok := s.Current()
	assert.False(t, ok)
	Run(ctx, func(context.Context) { assert.Equal(t, "v", value(s.Current())) })
	done := make(chan string)
	Go(ctx, func(context.Context) { done <- value(s.Current()) })
	assert.Equal(t, "v", <-done, "work started from the ctx sees it ambiently")
}

func TestStoreValueTypesAreSeparate(t *testing.T) {
	a, b := NewStore[string](), NewStore[string]()
	ctx := a.With(context.Background(), "a")
	_, ok := b.Value(ctx)
	assert.False(t, ok)
	_, ok = a.Value(context.Background())
	assert.False(t, ok)
}

func TestRunMakesContextValuesAmbient(t *testing.T) {
	requireAmbient(t)
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "span-ish")
	Run(ctx, func(context.Context) {
		assert.Equal(t, "span-ish", Ambient().Value(key{}))
		done := make(chan any)
		go func() { done <- Ambient().Value(key{}) }()
		assert.Equal(t, "span-ish", <-done)
	})
	assert.Nil(t, Ambient().Value(key{}))
}

func TestAmbientKeepsUserPprofLabels(t *testing.T) {
	requireAmbient(t)
	s := NewStore[string]()
	pprof.Do(context.Background(), pprof.Labels("team", "payments"), func(ctx context.Context) {
		s.Run(ctx, "v", func(ctx context.Context) {
			labels := goroutineLabels()
			assert.Equal(t, "payments", labels["team"])
			assert.Regexp(t, "^[0-9a-f]{1,16}$", labels["otelctx"], "the scope's token, in hex without leading zeros")
			// pprof.Do on our ctx keeps the scope, and the user's labels.
			pprof.Do(ctx, pprof.Labels("phase", "query"), func(context.Context) {
				assert.Equal(t, "v", value(s.Current()))
				assert.Equal(t, map[string]string{"team": "payments", "otelctx": labels["otelctx"], "phase": "query"}, goroutineLabels())
			})
			assert.Equal(t, "v", value(s.Current()))
		})
		assert.Equal(t, map[string]string{"team": "payments"}, goroutineLabels(), "restored exactly")
	})
}

func TestUnrelatedPprofDoReplacesScope(t *testing.T) {
	requireAmbient(t)
	// The documented gap: pprof.Do from a context that is not ours replaces
	// the goroutine's labels, and with them the ambient scope.
	s := NewStore[string]()
	s.Run(context.Background(), "v", func(context.Context) {
		pprof.Do(context.Background(), pprof.Labels("k", "v"), func(context.Context) {
			_, ok := s.Current()
			assert.False(t, ok)
		})
		// pprof.Do restores the labels of the ctx it was given, not the
		// goroutine's: the scope stays lost until this Run returns.
		_, ok := s.Current()
		assert.False(t, ok)
	})
}

func TestForgedLabelIsNotAScope(t *testing.T) {
	requireAmbient(t)
	pprof.Do(context.Background(), pprof.Labels(labelName, "http.request"), func(context.Context) {
		assert.Equal(t, uint64(0), CurrentExecutionID())
		assert.Equal(t, context.Background(), Ambient())
	})
}

// goroutineLabels returns the calling goroutine's pprof labels.
func goroutineLabels() map[string]string {
	m := map[string]string{}
	pprof.ForLabels(labelsCtx{getProfLabel()}, func(k, v string) bool {
		m[k] = v
		return true
	})
	return m
}

func value[T any](v T, _ bool) T { return v }
