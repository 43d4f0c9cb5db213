// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"fmt"
	"time"

	"github.com/otelctx/otelctx/internal/report"
)

// hookPanicError reports that hooks panicked, count times since the last
// report for the same event.
type hookPanicError struct {
	event string // "Init", "Context", "Before", "After" or "Destroy"
	id    uint64 // the resource of the last panic
	value any    // what the last panic was called with
	count int64  // the panics this report stands for, at least 1
}

func (e *hookPanicError) Error() string {
	if e.count == 1 {
		return fmt.Sprintf("asynctrack: %s hook panicked for resource %d: %v", e.event, e.id, e.value)
	}
	return fmt.Sprintf("asynctrack: %s hooks panicked %d times since the last report, last for resource %d: %v",
		e.event, e.count, e.id, e.value)
}

// panics bounds the reports of hook panics, one kind per event; panicsNow
// is its clock (tests replace it).
var (
	panics    [numEvents]report.Bound
	panicsNow = time.Now
)

// reportPanic reports, through internal/report, that a hook for ev panicked
// with v while handling resource id.
func reportPanic(ev hookEvent, id uint64, v any) {
	panics[ev].Report(panicsNow(), 1, func(n int64) error {
		return &hookPanicError{event: eventNames[ev], id: id, value: v, count: n}
	})
}
