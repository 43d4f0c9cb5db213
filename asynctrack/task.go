// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"errors"
	"sync"
)

// Bind returns a function that, each time it is called, calls fn on the
// calling goroutine as a new resource of type "task" triggered by ctx's
// execution: during fn the execution ID and values are the task's, and
// afterwards the caller's again. Use it to hand work to any queue, callback
// registry or long-lived goroutine. It is AsyncLocalStorage.bind; like
// Resource.Bind, the function may be called any number of times, and each
// call is one task with its own Init, Before, After and Destroy.
func Bind(ctx context.Context, fn func(ctx context.Context)) func() {
	return func() { newExecution(ctx, TypeTask, fn, fn, true).start() }
}

// ErrPoolClosed is returned by Pool.Submit after Close.
var ErrPoolClosed = errors.New("asynctrack: pool closed")

// Pool runs tasks on a fixed set of long-lived, tracked worker goroutines,
// in the order they were submitted. Each task runs as by Bind: with its
// submitter's execution as trigger and its submitter's values, ambient ones
// included; between tasks a worker is back in its own execution.
//
// The queue has no bound: Submit never waits for a worker, so a task may
// submit to its own pool, even one with a single worker. Bound what you
// submit where the submitters are not yours (Group.SetLimit, a semaphore).
type Pool struct {
	mu      sync.Mutex
	ready   sync.Cond // signalled when a task is queued or the pool closes
	queue   []*execution
	closed  bool
	workers sync.WaitGroup
}

// NewPool starts workers tracked goroutines (at least one) triggered by ctx's
// execution. ctx does not stop them: Close does.
func NewPool(ctx context.Context, workers int) *Pool {
	p := &Pool{}
	p.ready.L = &p.mu
	workers = max(workers, 1)
	p.workers.Add(workers)
	for range workers {
		// Unlike Go's goroutines, workers get a scope of their own, so
		// they do not keep their creator's open: between tasks, code
		// without a ctx sees the worker's execution.
		e := newExecution(ctx, TypeGoroutine, p.work, p.work, true)
		go func() {
			defer p.workers.Done() // after Destroy: Close returns with none live
			e.start()
		}()
	}
	return p
}

func (p *Pool) work(context.Context) {
	for {
		e := p.next()
		if e == nil {
			return
		}
		e.start()
	}
}

// next waits for the next task; nil once the pool is closed and drained.
func (p *Pool) next() *execution {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) == 0 && !p.closed {
		p.ready.Wait()
	}
	if len(p.queue) == 0 {
		return nil
	}
	e := p.queue[0]
	p.queue[0] = nil
	p.queue = p.queue[1:]
	return e
}

// Submit queues fn to run on a worker as a task and returns without waiting.
// It returns ctx's error if ctx is already done, and ErrPoolClosed after
// Close; fn does not run then.
func (p *Pool) Submit(ctx context.Context, fn func(ctx context.Context)) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	e := newExecution(ctx, TypeTask, fn, fn, true)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		e.discard()
		return ErrPoolClosed
	}
	p.queue = append(p.queue, e)
	p.ready.Signal()
	p.mu.Unlock()
	return nil
}

// Close stops accepting tasks, waits for the workers to run every task
// queued before it, and then for them to exit, Destroy included. It is safe
// to call more than once and concurrently; it must not be called from one of
// the pool's own tasks, which would wait for itself.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	p.ready.Broadcast()
	p.mu.Unlock()
	p.workers.Wait()
}
