// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// SpanProcessor copies selected baggage values onto spans, for
// sdktrace.WithSpanProcessor. A span gets the values of the baggage in the
// context it is started from (WithKeys, WithKeyPrefixes,
// WithAttributePrefix, WithRedacted, WithHashed, WithMaxAttributes), as
// string attributes in key order. Values Set kept out of a full baggage and
// Local values are never copied.
//
// A SpanProcessor from NewSpanProcessor sets the values on every span as it
// starts; one from WrapSpanProcessor adds them to the spans it hands the
// exporting processor as they end, which costs the span's start far less.
//
// The attributes are computed once per distinct baggage and reused for every
// span started under it.
//
// A SpanProcessor is safe for concurrent use.
type SpanProcessor struct {
	e *enricher
	// next, for WrapSpanProcessor, receives the spans; pending holds the
	// baggage of each span started and not yet ended.
	next    sdktrace.SpanProcessor
	pending *pendingSpans
}

var _ sdktrace.SpanProcessor = (*SpanProcessor)(nil)

// NewSpanProcessor returns a SpanProcessor configured by opts that sets the
// values on every span as it starts, where every processor and the span's
// own code see them.
func NewSpanProcessor(opts ...Option) *SpanProcessor {
	return &SpanProcessor{e: newEnricher(newConfig(opts...), false)}
}

// WrapSpanProcessor returns a SpanProcessor configured by opts that passes
// every call on to next, the exporting processor, and hands next each span
// with the values added: register it in place of next, as in
//
//	sdktrace.WithSpanProcessor(baggagebridge.WrapSpanProcessor(sdktrace.NewBatchSpanProcessor(exp)))
//
// The values are those of the baggage the span was started under, as with
// NewSpanProcessor, but they are computed when the exporter reads the
// span's attributes, on the exporter's goroutine for a batch processor, and
// they are on the spans next and its exporter receive only: the span's own
// code and other processors do not see them. An attribute the span itself
// has takes precedence over a value of the same key. The values do not
// count against the SDK's attribute count limit; WithMaxAttributes bounds
// them.
//
// Each span started and not yet ended holds a reference to its baggage.
// From the first time about 65536 such spans are in flight on, as when
// spans are started and never ended, the values are set as spans start, as
// with NewSpanProcessor, and this is reported once through otel.Handle. So
// they are for a span whose span ID another span in flight has, which only
// a non-random sdktrace.IDGenerator makes, and then that other span gets
// none.
func WrapSpanProcessor(next sdktrace.SpanProcessor, opts ...Option) *SpanProcessor {
	spanValues.wanted.Store(true)
	return &SpanProcessor{e: newEnricher(newConfig(opts...), false), next: next, pending: &pendingSpans{}}
}

// OnStart adds the selected values of parent's baggage to s, or, for
// WrapSpanProcessor, keeps the baggage for s's end, then calls next.
func (p *SpanProcessor) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if p.next == nil {
		p.setAttributes(parent, s)
		return
	}
	// Every span gets an entry, with or without a baggage: see pendingSpans.
	if bag := baggage.FromContext(parent); !p.pending.add(s.SpanContext().SpanID(), bag) {
		p.setAttributes(parent, s)
	}
	p.next.OnStart(parent, s)
}

func (p *SpanProcessor) setAttributes(parent context.Context, s sdktrace.ReadWriteSpan) {
	if en := p.e.get(baggage.FromContext(parent), trace.SpanContextFromContext(parent).TraceID()); en != nil && len(en.attrs) > 0 {
		s.SetAttributes(en.attrs...)
	}
}

// OnEnd does nothing, or, for WrapSpanProcessor, hands next s with the
// values of its baggage.
func (p *SpanProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if p.next == nil {
		return
	}
	sc := s.SpanContext()
	bag := p.pending.take(sc.SpanID())
	if set, ok := spanValues.take(sc.TraceID(), sc.SpanID()); ok {
		bag = set // the values Set gave the scope opened under s
	}
	if bag.Len() > 0 {
		s = &enrichedSpan{ReadOnlySpan: s, e: p.e, bag: bag}
	}
	p.next.OnEnd(s)
}

// Shutdown shuts next down, if any.
func (p *SpanProcessor) Shutdown(ctx context.Context) error {
	if p.next == nil {
		return nil
	}
	return p.next.Shutdown(ctx)
}

// ForceFlush flushes next, if any.
func (p *SpanProcessor) ForceFlush(ctx context.Context) error {
	if p.next == nil {
		return nil
	}
	return p.next.ForceFlush(ctx)
}

// enrichedSpan is an ended span with the values of bag added to its
// attributes.
type enrichedSpan struct {
	sdktrace.ReadOnlySpan
	e   *enricher
	bag baggage.Baggage
}

// Attributes returns the span's attributes, then the values of its baggage
// whose keys the span has no attribute of.
func (s *enrichedSpan) Attributes() []attribute.KeyValue {
	own := s.ReadOnlySpan.Attributes()
	en := s.e.get(s.bag, s.SpanContext().TraceID())
	if en == nil || len(en.attrs) == 0 {
		return own
	}
	out := make([]attribute.KeyValue, len(own), len(own)+len(en.attrs))
	copy(out, own)
	for _, a := range en.attrs {
		if !slices.ContainsFunc(own, func(o attribute.KeyValue) bool { return o.Key == a.Key }) {
			out = append(out, a)
		}
	}
	return out
}

const (
	pendingShardBits = 4
	// maxPending bounds the spans in flight whose baggage is kept.
	maxPending = 1 << 16
)

// pendingSpans maps the spans started and not yet ended to their baggage,
// by span ID, in shards of their own lock. Every span in flight that
// started before the bound was first reached has an entry, so that a span
// never takes the entry of another.
type pendingSpans struct {
	full   atomic.Bool // set for good when maxPending spans are in flight
	shards [1 << pendingShardBits]pendingShard
}

type pendingShard struct {
	mu sync.Mutex
	m  map[trace.SpanID]pendingSpan
	_  [48]byte // keeps shards on cache lines of their own
}

// pendingSpan is the baggage of the span in flight of its span ID or, with
// n > 1, the n spans of that ID, none of which gets a baggage from here.
type pendingSpan struct {
	bag baggage.Baggage
	n   int
}

func (ps *pendingSpans) shard(sid trace.SpanID) *pendingShard {
	return &ps.shards[sid[7]&(1<<pendingShardBits-1)]
}

// add keeps bag, which may be empty, for the span of span ID sid, and
// reports whether it did. It does not for a span whose span ID another span
// in flight has, nor from the first time maxPending spans are in flight on.
func (ps *pendingSpans) add(sid trace.SpanID, bag baggage.Baggage) bool {
	sh := ps.shard(sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.m[sid]; ok {
		// Which of the spans ends first cannot be told: none of them
		// gets a baggage from here.
		sh.m[sid] = pendingSpan{n: e.n + 1}
		return false
	}
	if ps.full.Load() {
		return false
	}
	if len(sh.m) >= maxPending>>pendingShardBits {
		if !ps.full.Swap(true) {
			otel.Handle(fmt.Errorf("baggagebridge: WrapSpanProcessor: %d spans in flight (spans started and never ended?): "+
				"values are set as spans start from now on", maxPending))
		}
		return false
	}
	if sh.m == nil {
		sh.m = make(map[trace.SpanID]pendingSpan)
	}
	sh.m[sid] = pendingSpan{bag: bag, n: 1}
	return true
}

// take returns the baggage kept for the span of span ID sid, which has
// ended, and forgets it; an empty baggage for none.
func (ps *pendingSpans) take(sid trace.SpanID) baggage.Baggage {
	sh := ps.shard(sid)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.m[sid]
	if !ok {
		return baggage.Baggage{}
	}
	if e.n--; e.n == 0 {
		delete(sh.m, sid)
	} else {
		sh.m[sid] = e
	}
	return e.bag
}
