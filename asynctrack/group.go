// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"sync"
)

// Go starts fn in a new goroutine, tracked as a resource of type "goroutine"
// triggered by ctx's execution. fn receives a context derived from ctx that
// carries the goroutine's execution ID and ctx's store values; the values are
// also ambient inside fn and in goroutines it starts with a plain go
// statement.
//
// A ctx that carries no execution (context.Background(), say) starts a root:
// the goroutine has no trigger, no values, and sees none ambiently, whatever
// scope the calling goroutine is in. That is what work which outlives the
// request it happens to start in needs. To start from the ambient scope in
// code that holds no ctx, pass Ambient().
//
// Destroy is emitted when fn returns. A panic in fn emits After and Destroy,
// then crashes the program as it would in a plain goroutine.
func Go(ctx context.Context, fn func(ctx context.Context)) {
	e := newExecution(ctx, TypeGoroutine, fn, fn, false)
	go e.frame.run(fn, true) // no frame between the goroutine's start and fn: see frame.run
}

// A Group is errgroup.Group for tracked goroutines: a collection of
// goroutines working on subtasks of a common task, each a resource of type
// "goroutine" started as Go starts one.
//
// A Group from NewGroup starts every goroutine from the context NewGroup
// derived. The zero Group is valid too: it has no limit, cancels nothing on
// an error, and starts each goroutine from the ambient scope of the goroutine
// that calls Go or TryGo: fn's ctx is derived from Ambient() there, so that
// the goroutine carries, in its ctx and ambiently, what a plain go statement
// there would: the values and execution of the work that goroutine runs in
// (and that work's cancellation, in the ctx), or none outside any scope.
//
// A Group must not be copied after first use.
type Group struct {
	ctx    context.Context // the parent of every goroutine; nil for a zero Group
	cancel func(error)

	wg  sync.WaitGroup
	sem chan struct{}

	errOnce sync.Once
	err     error
}

// NewGroup returns a new Group and an associated context derived from ctx.
// The derived context is canceled the first time a function passed to Go
// returns a non-nil error or the first time Wait returns, whichever occurs
// first. Goroutines started by the group descend from the derived context.
func NewGroup(ctx context.Context) (*Group, context.Context) {
	ctx, cancel := context.WithCancelCause(ctx)
	return &Group{ctx: ctx, cancel: cancel}, ctx
}

// Wait blocks until all function calls from the Go method have returned and
// their goroutines are destroyed, then returns the first non-nil error (if
// any) from them.
func (g *Group) Wait() error {
	g.wg.Wait()
	if g.cancel != nil {
		g.cancel(g.err)
	}
	return g.err
}

// Go calls fn in a new tracked goroutine, with a context derived from the
// group's (see Group). The first call to return a non-nil error cancels the
// group's context, if the group was created by NewGroup; its error will be
// returned by Wait. Go blocks until the new goroutine can be added without
// the number of active goroutines exceeding the limit.
func (g *Group) Go(fn func(ctx context.Context) error) {
	if g.sem != nil {
		g.sem <- struct{}{}
	}
	g.start(fn)
}

// TryGo calls fn in a new tracked goroutine only if the number of active
// goroutines in the group is currently below the configured limit. The
// return value reports whether the goroutine was started.
func (g *Group) TryGo(fn func(ctx context.Context) error) bool {
	if g.sem != nil {
		select {
		case g.sem <- struct{}{}:
		default:
			return false
		}
	}
	g.start(fn)
	return true
}

func (g *Group) start(fn func(ctx context.Context) error) {
	g.wg.Add(1)
	ctx := g.ctx
	if ctx == nil {
		ctx = Ambient()
	}
	e := newExecution(ctx, TypeGoroutine, fn, func(ctx context.Context) {
		if err := fn(ctx); err != nil {
			g.errOnce.Do(func() {
				g.err = err
				if g.cancel != nil {
					g.cancel(g.err)
				}
			})
		}
	}, false)
	go func() {
		defer g.done() // after Destroy: Wait returns with none live
		e.start()
	}()
}

func (g *Group) done() {
	if g.sem != nil {
		<-g.sem
	}
	g.wg.Done()
}

// SetLimit limits the number of active goroutines in this group to at most
// n. A negative value indicates no limit. A limit of zero will prevent any
// new goroutines from being added. Any subsequent call to the Go method will
// block until it can add an active goroutine without exceeding the limit.
// The limit must not be modified while any goroutines in the group are
// active.
func (g *Group) SetLimit(n int) {
	if n < 0 {
		g.sem = nil
		return
	}
	if len(g.sem) != 0 {
		panic("asynctrack: modify limit while goroutines in the group are still active")
	}
	g.sem = make(chan struct{}, n)
}
