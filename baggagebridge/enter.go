// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"context"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/internal/ambientotel"
	"github.com/otelctx/otelctx/internal/scopehook"
)

// enter applies change to what the scope ctx's work runs in shows from now
// on (see Set), and records the result for the scope's own span.
//
// The scope's context is rebuilt on the one it was opened with, from the
// values it shows now: however many values a long-lived scope is given,
// its context stays a few layers deep.
func enter(ctx context.Context, change func(context.Context) context.Context) {
	if !scopehook.HasFrame(ctx) {
		return
	}
	scopehook.Enter(ctx, func(base, cur context.Context) context.Context {
		next := baggage.ContextWithBaggage(base, baggage.FromContext(cur))
		if held, ok := heldStore.Value(cur); ok && held != nil {
			next = heldStore.With(next, held)
		}
		next = change(next)
		bag := baggage.FromContext(next)
		if sc := trace.SpanContextFromContext(base); sc.IsValid() && !sc.IsRemote() {
			spanValues.put(sc.TraceID(), sc.SpanID(), bag)
		}
		if d := requestOf(base); d != nil {
			d.set.Store(&bag) // what the live view shows of the request
		}
		return next
	})
}

// spanValues holds the baggage Set and Delete gave a scope, for the span
// the scope was opened under, which started before the values existed:
// WrapSpanProcessor adds them when the span ends, and forgets them. It is
// filled only once a WrapSpanProcessor exists. Each shard holds at most
// maxSpanValues/16 spans; past that an arbitrary one is forgotten, and that
// span is exported with the baggage it started with, never another's.
var spanValues spanTable

const maxSpanValues = 1 << 14

type spanTable struct {
	wanted atomic.Bool
	// n counts the entries, so that a span ends without a lock while no
	// request has been Set a value.
	n      atomic.Int64
	shards [16]struct {
		mu sync.Mutex
		m  map[spanKey]baggage.Baggage
		_  [48]byte
	}
}

type spanKey struct {
	tid trace.TraceID
	sid trace.SpanID
}

func (t *spanTable) put(tid trace.TraceID, sid trace.SpanID, bag baggage.Baggage) {
	if !t.wanted.Load() {
		return
	}
	sh := &t.shards[sid[7]&15]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := spanKey{tid, sid}
	if _, ok := sh.m[k]; !ok {
		if len(sh.m) >= maxSpanValues/len(t.shards) {
			for old := range sh.m {
				delete(sh.m, old)
				break
			}
		} else {
			t.n.Add(1)
		}
	}
	if sh.m == nil {
		sh.m = make(map[spanKey]baggage.Baggage)
	}
	sh.m[k] = bag
}

// take returns and forgets the baggage recorded for the span, if any.
func (t *spanTable) take(tid trace.TraceID, sid trace.SpanID) (baggage.Baggage, bool) {
	if t.n.Load() == 0 {
		return baggage.Baggage{}, false
	}
	sh := &t.shards[sid[7]&15]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := spanKey{tid, sid}
	bag, ok := sh.m[k]
	if ok {
		delete(sh.m, k)
		t.n.Add(-1)
	}
	return bag, ok
}

// source returns the one context a record or span takes its OpenTelemetry
// context from: ctx if it carries a span context, a baggage or an
// asynctrack frame, else asynctrack.Ambient() as a whole. The two are never
// combined: a ctx of one request with the ambient scope of another would
// give one record two requests' values.
func source(ctx context.Context) context.Context {
	if ctx != nil && carries(ctx) {
		return ctx
	}
	return asynctrack.Ambient()
}

// carries reports whether ctx carries OpenTelemetry context or a frame.
func carries(ctx context.Context) bool { return ambientotel.Carries(ctx) }
