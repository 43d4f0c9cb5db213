// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"time"
)

// Timer is a tracked timer created by AfterFunc.
type Timer struct {
	t *time.Timer
	e *execution
}

// AfterFunc waits for the duration to elapse and then calls fn in its own
// goroutine, tracked as a resource of type "timer" triggered by ctx's execution. fn receives a context derived from
// ctx, as with Go. Destroy is emitted after fn returns, or by a Stop that
// prevents fn from running.
//
// ctx supplies the trigger and the values; it does not stop the timer: call
// Stop for that.
func AfterFunc(ctx context.Context, d time.Duration, fn func(ctx context.Context)) *Timer {
	t := &Timer{}
	t.e = newExecution(ctx, TypeTimer, fn, fn, true)
	t.t = time.AfterFunc(d, t.e.start)
	return t
}

// Stop prevents the timer from firing. It returns true if the call stops the
// timer, false if the timer has already fired or been stopped.
func (t *Timer) Stop() bool {
	if !t.t.Stop() {
		return false
	}
	t.e.discard()
	return true
}

// ID returns the timer's resource ID.
func (t *Timer) ID() uint64 { return t.e.frame.ID() }
