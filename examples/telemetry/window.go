// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package telemetry

import (
	"context"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// WindowSpans is how many spans NewSink's Window keeps: the traces of the
// last few hundred requests of an example service.
const WindowSpans = 10_000

// Window is a span processor that keeps the n most recently ended spans and
// drops older ones, so that a service which records its spans in memory
// runs in bounded memory however long it runs. It is safe for concurrent
// use.
type Window struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan // a ring once full
	next  int                     // where the next span goes once full
	n     int
}

var _ Recorder = (*Window)(nil)

// NewWindow returns a Window of n spans (at least 1).
func NewWindow(n int) *Window { return &Window{n: max(n, 1)} }

// OnStart does nothing.
func (*Window) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd keeps s, dropping the oldest span if the window is full.
func (w *Window) OnEnd(s sdktrace.ReadOnlySpan) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.spans) < w.n {
		w.spans = append(w.spans, s)
		return
	}
	w.spans[w.next] = s
	w.next = (w.next + 1) % w.n
}

// Ended returns the spans kept, oldest first.
func (w *Window) Ended() []sdktrace.ReadOnlySpan {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]sdktrace.ReadOnlySpan, 0, len(w.spans))
	out = append(out, w.spans[w.next:]...)
	return append(out, w.spans[:w.next]...)
}

// Shutdown does nothing.
func (*Window) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (*Window) ForceFlush(context.Context) error { return nil }
