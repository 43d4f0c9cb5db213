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

// Limiter bounds the reports of kinds numbered from 0. It is safe for
// concurrent use.
type Limiter struct {
	now   func() time.Time
	kinds []kind
}

type kind struct {
	last atomic.Int64 // unix nanoseconds of the last report; 0 before the first
	held atomic.Int64 // occurrences not reported yet
}

// NewLimiter returns a Limiter for n kinds that reads the time from now
// (time.Now outside tests).
func NewLimiter(n int, now func() time.Time) *Limiter {
	return &Limiter{now: now, kinds: make([]kind, n)}
}

// Report records one occurrence of kind k. If k was never reported, or last
// reported Interval ago or more, it reports err(n) through Handle, where n
// is the number of occurrences the report stands for: this one and those
// held back since the last report.
func (l *Limiter) Report(k int, err func(n int64) error) {
	s := &l.kinds[k]
	s.held.Add(1)
	now := l.now().UnixNano()
	last := s.last.Load()
	if last != 0 && now-last < int64(Interval) || !s.last.CompareAndSwap(last, now) {
		return
	}
	n := s.held.Swap(0)
	if n == 0 { // a concurrent report took this occurrence
		return
	}
	Handle(err(n))
}
