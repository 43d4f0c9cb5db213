package asynctrack

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
)

// Bind returns a function that calls fn once, on whatever goroutine calls it,
// as a resource of type "task" triggered by ctx's execution: during fn the
// execution ID and values are the task's, and afterwards the caller's again.
// Use it to hand work to any queue or long-lived goroutine. It is
// AsyncLocalStorage.bind for one-shot work.
//
// Calls after the first do nothing. Destroy is emitted after fn returns, or,
// if the function is never called, when it is garbage collected.
func Bind(ctx context.Context, fn func(ctx context.Context)) func() {
	t := &task{e: newExecution(ctx, TypeTask, nil, fn, true)}
	if t.e.frame.env().hooks != nil {
		// Only a listener needs the Destroy of a task that never runs. The
		// cleanup holds the execution, which does not lead back to t.
		t.cleanup = runtime.AddCleanup(t, (*execution).discard, t.e)
	}
	return t.run
}

// task is the one-shot handle Bind returns.
type task struct {
	e       *execution
	ran     atomic.Bool
	cleanup runtime.Cleanup
}

func (t *task) run() {
	if t.ran.Swap(true) {
		return
	}
	t.cleanup.Stop()
	t.e.start()
}

// discard emits Destroy for an execution that will never run.
func (e *execution) discard() { e.frame.destroy() }

// ErrPoolClosed is returned by Pool.Submit after Close.
var ErrPoolClosed = errors.New("asynctrack: pool closed")

// Pool runs tasks on a fixed set of long-lived, tracked worker goroutines.
// Each task runs as by Bind: with its submitter's execution as trigger and its
// submitter's values, ambient ones included; between tasks a worker is back in
// its own execution.
type Pool struct {
	tasks     chan *execution
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	workers   sync.WaitGroup
}

// NewPool starts workers tracked goroutines (at least one) triggered by ctx's
// execution. ctx does not stop them: Close does.
func NewPool(ctx context.Context, workers int) *Pool {
	p := &Pool{tasks: make(chan *execution), done: make(chan struct{})}
	workers = max(workers, 1)
	p.workers.Add(workers)
	for range workers {
		// Unlike Go's goroutines, workers get a scope of their own: between
		// tasks, code without a ctx sees the worker's execution.
		e := newExecution(ctx, TypeGoroutine, nil, p.work, true)
		go func() {
			defer p.workers.Done() // after Destroy: Close returns with none live
			e.start()
		}()
	}
	return p
}

func (p *Pool) work(context.Context) {
	for {
		select {
		case e := <-p.tasks:
			e.start()
		case <-p.done:
			return
		}
	}
}

// Submit hands fn to a worker, blocking until one takes it, ctx is done or
// the pool is closed. It returns ctx's error or ErrPoolClosed in the latter
// cases; fn does not run then. Tasks may submit to their own pool.
func (p *Pool) Submit(ctx context.Context, fn func(ctx context.Context)) error {
	select {
	case <-p.done:
		return ErrPoolClosed
	default:
	}
	e := newExecution(ctx, TypeTask, nil, fn, true)
	select {
	case p.tasks <- e:
		return nil
	case <-ctx.Done():
		e.discard()
		return context.Cause(ctx)
	case <-p.done:
		e.discard()
		return ErrPoolClosed
	}
}

// Close stops accepting tasks and waits for the workers to finish the tasks
// they took and exit, Destroy included. It is safe to call more than once and concurrently.
func (p *Pool) Close() {
	p.closeOnce.Do(func() { close(p.done) })
	p.workers.Wait()
}
