// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package report is the one path by which the packages of this module report
// the errors they cannot return to a caller: hooks that panicked
// (asynctrack), rejected input and invalid configuration (propagator), spans
// exported without their values (baggagebridge).
//
// Reports are bounded, with one bound for the whole module: each kind of
// error is reported at once the first time, then at most once per Interval,
// each report saying how many occurrences it stands for. Input can be
// attacker-controlled: reporting each occurrence would let a caller flood the
// logs, reporting once per process would hide an ongoing problem.
//
// It imports only the standard library, so that asynctrack can use it. Reports
// go to the log package until internal/otelhandle, which every package of
// this module that depends on OpenTelemetry imports, sends them to
// otel.Handle.
package report

import (
	"log"
	"sync/atomic"
	"time"
)

// Interval is the least time between two reports of the same kind.
const Interval = time.Minute

var handler atomic.Pointer[func(error)]

// SetHandler sets the function that receives every report; nil restores the
// default, log.Print.
func SetHandler(h func(error)) {
	if h == nil {
		handler.Store(nil)
		return
	}
	handler.Store(&h)
}

// Handle sends err to the handler at once, unbounded: for errors a caller
// causes once, such as an invalid option.
func Handle(err error) {
	if h := handler.Load(); h != nil {
		(*h)(err)
		return
	}
	log.Print(err)
}

// Bound bounds the reports of one kind of error. The zero Bound is ready to
// use; it is safe for concurrent use and must not be copied once used.
type Bound struct {
	last atomic.Int64 // unix nanoseconds of the last report; 0 before the first
	held atomic.Int64 // occurrences not reported yet
}

// Report records n occurrences at time now (time.Now outside tests). If
// none was reported yet, or the last report is Interval old or more, it
// reports err(total) through Handle, where total is the number of
// occurrences the report stands for: these and those held back since the
// last report.
func (b *Bound) Report(now time.Time, n int64, err func(total int64) error) {
	b.held.Add(n)
	t := now.UnixNano()
	last := b.last.Load()
	if last != 0 && t-last < int64(Interval) || !b.last.CompareAndSwap(last, t) {
		return
	}
	if total := b.held.Swap(0); total > 0 {
		Handle(err(total))
	}
}

// Held returns the occurrences recorded and not reported yet.
func (b *Bound) Held() int64 { return b.held.Load() }
