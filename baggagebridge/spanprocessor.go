// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/internal/report"
)

// spanProcessor copies selected baggage values onto spans: as they start,
// or, with next, onto the spans it hands next as they end.
type spanProcessor struct {
	e *enricher
	// next, for WrapSpanProcessor, receives the spans; pending holds the
	// baggage of the spans started and not yet ended, within its bound.
	next    sdktrace.SpanProcessor
	pending *pendingSpans
}

// NewSpanProcessor returns a span processor, for sdktrace.WithSpanProcessor,
// that copies the values opts select from the baggage of the context a span
// is started from onto the span as it starts, as string attributes in key
// order, where every processor and the span's own code see them. They are
// then attributes like the span's own and count against the SDK's attribute
// count limit (sdktrace.SpanLimits): a span that reaches it loses the
// attributes its code sets last. WrapSpanProcessor's values never take an
// attribute's place and cost a span's start far less. Values Set kept out
// of a full baggage are never copied.
//
// The processor is safe for concurrent use; its Shutdown and ForceFlush do
// nothing.
func NewSpanProcessor(opts ...Option) sdktrace.SpanProcessor {
	return &spanProcessor{e: newEnricher(newConfig(opts...), false)}
}

// WrapSpanProcessor returns a span processor that passes every call on to
// next, the exporting processor, and hands next each span with the values
// opts select added: register it in place of next, as in
//
//	sdktrace.WithSpanProcessor(baggagebridge.WrapSpanProcessor(sdktrace.NewBatchSpanProcessor(exp)))
//
// The values are those of the baggage the span was started under, as with
// NewSpanProcessor, but they are computed when the exporter reads the
// span's attributes, on the exporter's goroutine for a batch processor, and
// they are on the spans next and its exporter receive only: the span's own
// code and other processors do not see them. An attribute the span itself
// has takes precedence over a value of the same key. The values come after
// the span's own attributes and do not count against the SDK's attribute
// count limit, so a span keeps every attribute the limit let it keep and
// DroppedAttributes counts its own only; WithMaxAttributes bounds the
// values. The scope's own span gets the values Set gave the scope after it
// started.
//
// Every span gets its values while no more than about 63,000 spans are in
// flight (started and not ended); past that, as when spans are started and
// never ended, the spans in flight the longest may be exported without
// values, never with another span's, and spans started later get theirs as
// before: the processor does not change mode. Spans in flight that share a
// span ID, which only a non-random sdktrace.IDGenerator makes, get none.
// Spans exported without their values are reported through otel.Handle, at
// most once a minute.
//
// The processor is safe for concurrent use; Shutdown and ForceFlush are
// next's.
func WrapSpanProcessor(next sdktrace.SpanProcessor, opts ...Option) sdktrace.SpanProcessor {
	spanValues.wanted.Store(true)
	return &spanProcessor{e: newEnricher(newConfig(opts...), false), next: next, pending: &pendingSpans{}}
}

// OnStart adds the selected values of parent's baggage to s, or, for
// WrapSpanProcessor, keeps the baggage for s's end, then calls next.
func (p *spanProcessor) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	if p.next == nil {
		p.setAttributes(parent, s)
		return
	}
	// Every span gets an entry, with or without a baggage: see pendingSpans.
	sc := s.SpanContext()
	p.pending.add(sc.TraceID(), sc.SpanID(), baggage.FromContext(parent))
	p.next.OnStart(parent, s)
}

func (p *spanProcessor) setAttributes(parent context.Context, s sdktrace.ReadWriteSpan) {
	if en := p.e.get(baggage.FromContext(parent), trace.SpanContextFromContext(parent).TraceID()); en != nil && len(en.attrs) > 0 {
		s.SetAttributes(en.attrs...)
	}
}

// OnEnd does nothing, or, for WrapSpanProcessor, hands next s with the
// values of its baggage.
func (p *spanProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if p.next == nil {
		return
	}
	sc := s.SpanContext()
	bag := p.pending.take(sc.TraceID(), sc.SpanID())
	if set, ok := spanValues.take(sc.TraceID(), sc.SpanID()); ok {
		bag = set // the values Set gave the scope opened under s
	}
	if bag.Len() > 0 {
		s = &enrichedSpan{ReadOnlySpan: s, e: p.e, bag: bag, tid: sc.TraceID()}
	}
	p.next.OnEnd(s)
}

// Shutdown shuts next down, if any.
func (p *spanProcessor) Shutdown(ctx context.Context) error {
	if p.next == nil {
		return nil
	}
	return p.next.Shutdown(ctx)
}

// ForceFlush flushes next, if any.
func (p *spanProcessor) ForceFlush(ctx context.Context) error {
	if p.next == nil {
		return nil
	}
	return p.next.ForceFlush(ctx)
}

// enrichedSpan is an ended span, of trace tid, with the values of bag added
// to its attributes.
type enrichedSpan struct {
	sdktrace.ReadOnlySpan
	e   *enricher
	bag baggage.Baggage
	tid trace.TraceID
}

// Attributes returns the span's attributes, then the values of its baggage
// whose keys the span has no attribute of.
func (s *enrichedSpan) Attributes() []attribute.KeyValue {
	own := s.ReadOnlySpan.Attributes()
	en := s.e.get(s.bag, s.tid)
	if en == nil || len(en.attrs) == 0 {
		return own
	}
	out := append(make([]attribute.KeyValue, 0, len(own)+len(en.attrs)), own...)
	for _, a := range en.attrs {
		if !hasKey(own, a.Key) {
			out = append(out, a)
		}
	}
	return out
}

// hasKey reports whether attrs has an attribute of key k.
func hasKey(attrs []attribute.KeyValue, k attribute.Key) bool {
	for i := range attrs {
		if attrs[i].Key == k {
			return true
		}
	}
	return false
}

const (
	pendingShardBits = 4
	// generation is the number of spans in flight a shard keeps in each of
	// its two generations: all of them while it has no more in flight.
	generation = 4096
	// maxPending bounds the spans in flight whose baggage is kept.
	maxPending = 2 * generation << pendingShardBits
)

// pendingSpans maps the spans started and not yet ended to their baggage, by
// span ID, in shards of their own lock. Each shard keeps its spans in two
// generations: a span starts in the current one; when that holds generation
// spans in flight it becomes the old one, and the spans of the old one, in
// flight the longest (never ended, as likely as not), are forgotten. So at
// most maxPending spans are kept, every span is kept while its shard has no
// more than generation spans in flight, and a span started once spans have
// ended is kept as before.
//
// An entry gives its baggage only to the span it was made for, known at its
// end by its span ID and trace ID: a forgotten span never takes the entry of
// a later one of the same span ID in another trace. Spans in flight that
// share a span ID, which only a non-random sdktrace.IDGenerator makes, share
// one entry, which gives none of them a baggage.
type pendingSpans struct {
	shards  [1 << pendingShardBits]pendingShard
	dropped dropReport
}

type pendingShard struct {
	mu       sync.Mutex
	cur, old map[uint64]pendingSpan
	_        [40]byte // keeps shards on cache lines of their own
}

// pendingSpan is the baggage of the span in flight of its span ID, whose
// trace ID folds to trace (traceKey), or, if shared, the entry of the n
// spans in flight of that span ID, none of which gets a baggage from here.
type pendingSpan struct {
	bag    baggage.Baggage
	trace  uint64
	n      int32
	shared bool
}

// pendingKey is the map key of a span ID.
func pendingKey(sid trace.SpanID) uint64 { return binary.LittleEndian.Uint64(sid[:]) }

// traceKey folds a trace ID into 64 bits: trace IDs that differ in one half
// differ in it.
func traceKey(tid trace.TraceID) uint64 {
	return binary.LittleEndian.Uint64(tid[:8]) ^ binary.LittleEndian.Uint64(tid[8:])
}

func (ps *pendingSpans) shard(k uint64) *pendingShard {
	return &ps.shards[k>>(64-pendingShardBits)]
}

// add keeps bag, which may be empty, for the span of IDs tid and sid.
func (ps *pendingSpans) add(tid trace.TraceID, sid trace.SpanID, bag baggage.Baggage) {
	k := pendingKey(sid)
	sh := ps.shard(k)
	sh.mu.Lock()
	m := sh.cur
	e, ok := m[k]
	if !ok && sh.old != nil {
		m = sh.old
		e, ok = m[k]
	}
	if ok {
		// Which of the spans ends first cannot be told: none of them
		// gets a baggage from here.
		dropped := 1
		if !e.shared {
			dropped++
		}
		m[k] = pendingSpan{n: e.n + 1, shared: true}
		sh.mu.Unlock()
		ps.dropped.add(dropped)
		return
	}
	forgotten := 0
	if len(sh.cur) >= generation {
		forgotten = len(sh.old)
		sh.old, sh.cur = sh.cur, nil
	}
	if sh.cur == nil {
		sh.cur = make(map[uint64]pendingSpan)
	}
	sh.cur[k] = pendingSpan{bag: bag, trace: traceKey(tid), n: 1}
	sh.mu.Unlock()
	if forgotten > 0 {
		ps.dropped.add(forgotten)
	}
}

// take returns the baggage kept for the span of IDs tid and sid, which has
// ended, and forgets it; an empty baggage for none.
func (ps *pendingSpans) take(tid trace.TraceID, sid trace.SpanID) baggage.Baggage {
	k := pendingKey(sid)
	sh := ps.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	m := sh.cur
	e, ok := m[k]
	if !ok {
		if m = sh.old; m == nil {
			return baggage.Baggage{}
		}
		if e, ok = m[k]; !ok {
			return baggage.Baggage{}
		}
	}
	switch {
	case e.shared && e.n > 1:
		e.n--
		m[k] = e
		return baggage.Baggage{}
	case !e.shared && e.trace != traceKey(tid):
		return baggage.Baggage{} // another span's: this one's was forgotten
	}
	delete(m, k)
	if len(sh.old) == 0 {
		sh.old = nil // its spans have all ended: the memory goes
	}
	return e.bag
}

// dropReport reports, through internal/report, the spans whose baggage is
// not kept: the first at once, then at most once per report.Interval, with
// the number since the last report.
type dropReport struct{ report.Bound }

func (r *dropReport) add(n int) {
	r.Report(time.Now(), int64(n), func(total int64) error {
		return fmt.Errorf("baggagebridge: WrapSpanProcessor: %d spans will be exported without their values "+
			"(about %d spans in flight, as when spans are started and never ended, or spans in flight sharing a span ID)",
			total, generation<<pendingShardBits)
	})
}
