// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// event is one hook callback as a recorder saw it.
type event struct {
	kind        string // init, before, after, destroy
	id, trigger uint64
	typ         string
	value       any
}

// recorder is an enabled hook that records every event.
type recorder struct {
	hook   *Hook
	mu     sync.Mutex
	events []event
}

func newRecorder(t testing.TB) *recorder {
	r := &recorder{}
	r.hook = NewHook(HookFuncs{
		Init: func(_ context.Context, id uint64, typ string, trigger uint64, value any) {
			r.add(event{kind: "init", id: id, typ: typ, trigger: trigger, value: value})
		},
		Before:  func(id uint64) { r.add(event{kind: "before", id: id}) },
		After:   func(id uint64) { r.add(event{kind: "after", id: id}) },
		Destroy: func(id uint64) { r.add(event{kind: "destroy", id: id}) },
	}).Enable()
	t.Cleanup(func() { r.hook.Disable() })
	return r
}

func (r *recorder) add(e event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// kinds returns the kinds of the events for resource id, in order.
func (r *recorder) kinds(id uint64) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.id == id {
			out = append(out, e.kind)
		}
	}
	return out
}

// init returns the init event of resource id.
func (r *recorder) init(id uint64) (event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.id == id && e.kind == "init" {
			return e, true
		}
	}
	return event{}, false
}

// waitDestroyed waits, bounded, until resource id has been destroyed.
func (r *recorder) waitDestroyed(t testing.TB, id uint64) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if k := r.kinds(id); slices.Contains(k, "destroy") {
			return k
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("resource %d was not destroyed; events: %v", id, r.kinds(id))
	return nil
}
