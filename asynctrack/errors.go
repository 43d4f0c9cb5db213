// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"
)

// SetErrorHandler sets the function that receives the errors this package
// cannot return to a caller: hooks that panicked. A nil h restores the
// default, which writes them with the log package. This package imports no
// OpenTelemetry module; the packages of this module that do (baggagebridge,
// exporter) set otel.Handle when they are imported, and a call from main
// replaces that.
//
// Reports are bounded: for each event (Init, Context, Before, After,
// Destroy), the first panic is reported at once and later ones at most once
// per ErrorInterval, each report saying how many it stands for.
func SetErrorHandler(h func(error)) {
	if h == nil {
		h = defaultErrorHandler
	}
	errorHandler.Store(&h)
}

// ErrorInterval is the shortest time between two reports of panics in hooks
// for the same event.
const ErrorInterval = 10 * time.Second

var errorHandler atomic.Pointer[func(error)]

func defaultErrorHandler(err error) { log.Print(err) }

func handleError(err error) {
	if h := errorHandler.Load(); h != nil {
		(*h)(err)
		return
	}
	defaultErrorHandler(err)
}

// HookPanicError reports that hooks panicked, Count times since the last
// report for the same event.
type HookPanicError struct {
	Event string // "Init", "Context", "Before", "After" or "Destroy"
	ID    uint64 // the resource of the last panic
	Value any    // what the last panic was called with
	Count int    // the panics this report stands for, at least 1
}

func (e *HookPanicError) Error() string {
	if e.Count == 1 {
		return fmt.Sprintf("asynctrack: %s hook panicked for resource %d: %v", e.Event, e.ID, e.Value)
	}
	return fmt.Sprintf("asynctrack: %s hooks panicked %d times since the last report, last for resource %d: %v",
		e.Event, e.Count, e.ID, e.Value)
}

// panics is the rate limiter of hook panic reports.
var panics = panicReporter{now: time.Now}

type panicReporter struct {
	mu   sync.Mutex
	now  func() time.Time // replaced by tests
	last [numEvents]time.Time
	held [numEvents]int // panics not reported yet
}

func (r *panicReporter) report(ev hookEvent, id uint64, v any) {
	r.mu.Lock()
	r.held[ev]++
	now := r.now()
	if !r.last[ev].IsZero() && now.Sub(r.last[ev]) < ErrorInterval {
		r.mu.Unlock()
		return
	}
	err := &HookPanicError{Event: eventNames[ev], ID: id, Value: v, Count: r.held[ev]}
	r.last[ev], r.held[ev] = now, 0
	r.mu.Unlock()
	handleError(err)
}
