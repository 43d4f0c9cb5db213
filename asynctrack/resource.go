// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"runtime"
	"sync"
)

// Resource is a user-defined async resource: the equivalent of Node.js's
// AsyncResource. Create one where work is scheduled (a request arrives, a
// message is queued), run its callbacks with Run from any goroutine, any
// number of times, and Destroy it when it is done.
//
// A Resource captures the store values and trigger of the context it was
// created from; every Run sees those, ambiently included. It is safe for
// concurrent use.
type Resource struct {
	f       *frame
	state   *resourceState // nil if no hook saw the resource created
	cleanup runtime.Cleanup
}

// resourceState counts the runs in flight so that Destroy comes after the
// last After even when Destroy races with Run on another goroutine. It is
// separate from Resource so that a GC cleanup can hold it.
type resourceState struct {
	f         *frame
	mu        sync.Mutex
	running   int
	destroyed bool // Destroy was asked for
}

// NewResource creates a resource of type typ, triggered by ctx's execution,
// and emits Init with value as the resource value (which may be nil).
//
// A resource that is never destroyed is destroyed when it is garbage
// collected, so a listener always receives Destroy: then on the runtime's
// cleanup goroutine, not on one of the program's.
func NewResource(ctx context.Context, typ string, value any) *Resource {
	f := &newExecution(ctx, typ, value, nil, true).frame
	r := &Resource{f: f}
	if f.hooks != nil {
		// Only a resource hooks saw created has events to order.
		r.state = &resourceState{f: f}
		r.cleanup = runtime.AddCleanup(r, (*resourceState).destroy, r.state)
	}
	return r
}

// ID returns the resource's ID: the execution ID inside Run.
func (r *Resource) ID() uint64 { return r.f.ID() }

// TriggerID returns the ID of the execution that created the resource.
func (r *Resource) TriggerID() uint64 { return r.f.trigger() }

// Context returns the resource's context: what Run passes to its callbacks.
func (r *Resource) Context() context.Context { return r.f }

// Run calls fn in the resource's scope on the calling goroutine: fn receives
// the resource's context, its values are ambient, and Before and After
// bracket the call. After Destroy, Run still calls fn in the scope but emits
// no events. A panic in fn emits After, then propagates.
func (r *Resource) Run(fn func(ctx context.Context)) {
	// Each run has a frame and a scope of its own: runs may overlap on
	// several goroutines, and each scope closes when its run ends.
	f := &frame{Context: r.f.Context, res: r.f, values: r.f.values, ownScope: true}
	if r.state != nil && r.state.begin() {
		f.hooks = r.f.hooks
		defer r.state.end()
	}
	f.run(fn, false)
}

// Destroy emits Destroy, after the After of any Run still in flight. Calls
// after the first do nothing.
func (r *Resource) Destroy() {
	if r.state == nil {
		return // no hooks: no event
	}
	r.cleanup.Stop()
	r.state.destroy()
}

func (s *resourceState) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return false
	}
	s.running++
	return true
}

func (s *resourceState) end() {
	s.mu.Lock()
	s.running--
	last := s.destroyed && s.running == 0
	s.mu.Unlock()
	if last {
		s.f.destroy()
	}
}

func (s *resourceState) destroy() {
	s.mu.Lock()
	if s.destroyed {
		s.mu.Unlock()
		return
	}
	s.destroyed = true
	idle := s.running == 0
	s.mu.Unlock()
	if idle {
		s.f.destroy()
	}
}
