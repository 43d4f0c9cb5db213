// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// TestPendingSpansBound starts spans that never end, far past the bound,
// as a leak would: pendingSpans keeps no more than maxPending, forgets the
// spans in flight longest, each of which then gets no baggage, not even one
// kept for a later span of its span ID in another trace, reports them, and
// keeps the spans started last.
func TestPendingSpansBound(t *testing.T) {
	m, err := baggage.NewMemberRaw("k", "v")
	require.NoError(t, err)
	bag, err := baggage.New(m)
	require.NoError(t, err)
	sid := func(i uint64) (s trace.SpanID) {
		binary.BigEndian.PutUint64(s[:], i*0x9e3779b97f4a7c15) // spread over the shards
		return s
	}
	tid := func(i uint64) (t trace.TraceID) {
		binary.BigEndian.PutUint64(t[8:], i)
		return t
	}

	var reports []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { reports = append(reports, err) }))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })

	var ps pendingSpans
	kept := func() (n int) {
		for i := range ps.shards {
			n += len(ps.shards[i].cur) + len(ps.shards[i].old)
		}
		return n
	}
	const leaked = 2 * maxPending
	for i := range uint64(leaked) {
		ps.add(tid(i), sid(i), bag)
		if i%1024 == 0 {
			require.LessOrEqual(t, kept(), maxPending)
		}
	}
	require.LessOrEqual(t, kept(), maxPending)
	require.Len(t, reports, 1, "reported once within the interval")
	assert.ErrorContains(t, reports[0], "spans will be exported without their values")
	assert.Equal(t, int64(leaked-kept()), ps.dropped.Held()+reportedCount(t, reports[0]), "every span forgotten is counted")

	assert.Zero(t, ps.take(tid(0), sid(0)).Len(), "the first span was forgotten")
	assert.Equal(t, "v", ps.take(tid(leaked-1), sid(leaked-1)).Member("k").Value(), "the last is kept")
	assert.Zero(t, ps.take(tid(leaked-1), sid(leaked-1)).Len(), "taken once")

	// A later span of a forgotten span's span ID in another trace: the
	// forgotten one ends first and gets nothing, the later one its own.
	ps.add(tid(leaked), sid(1), bag)
	assert.Zero(t, ps.take(tid(1), sid(1)).Len(), "the forgotten span")
	assert.Equal(t, "v", ps.take(tid(leaked), sid(1)).Member("k").Value(), "the later span")
}

// reportedCount returns the number of spans a report of dropReport gives.
func reportedCount(t *testing.T, err error) int64 {
	t.Helper()
	var n int64
	_, scanErr := fmt.Sscanf(err.Error(), "baggagebridge: WrapSpanProcessor: %d spans", &n)
	require.NoError(t, scanErr)
	return n
}

// TestPendingSpansSharedID: spans in flight that share a span ID get no
// baggage, whichever ends first, and the ID is free again once none is in
// flight.
func TestPendingSpansSharedID(t *testing.T) {
	m, err := baggage.NewMemberRaw("k", "v")
	require.NoError(t, err)
	bag, err := baggage.New(m)
	require.NoError(t, err)
	var reports []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { reports = append(reports, err) }))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })

	var ps pendingSpans
	id := trace.SpanID{1}
	ps.add(trace.TraceID{1}, id, bag)
	ps.add(trace.TraceID{2}, id, bag)
	ps.add(trace.TraceID{2}, id, baggage.Baggage{})
	require.Len(t, reports, 1)
	assert.Equal(t, int64(3), reportedCount(t, reports[0])+ps.dropped.Held(), "the three spans counted")
	for _, tr := range []byte{2, 1, 2} {
		assert.Zero(t, ps.take(trace.TraceID{tr}, id).Len())
	}
	ps.add(trace.TraceID{3}, id, bag)
	assert.Equal(t, "v", ps.take(trace.TraceID{3}, id).Member("k").Value(), "free again")
}

// TestEnrichmentSharedAcrossTraces: a selection of every key computes the
// enrichment of a baggage once for the traces whose slot it shares, and
// gives a trace of another baggage in that slot its own values, computed
// anew.
func TestEnrichmentSharedAcrossTraces(t *testing.T) {
	e := newEnricher(newConfig(), false)
	slot := func(tid trace.TraceID) uint64 { return maphash.Comparable(e.seed, tid) >> (64 - cacheBits) }
	tid1 := trace.TraceID{1}
	var tid2, tid3 trace.TraceID // other traces of tid1's slot
	for i := uint64(2); tid3 == (trace.TraceID{}); i++ {
		var id trace.TraceID
		binary.BigEndian.PutUint64(id[8:], i)
		switch {
		case slot(id) != slot(tid1):
		case tid2 == (trace.TraceID{}):
			tid2 = id
		default:
			tid3 = id
		}
	}
	bag := func(s string) baggage.Baggage {
		b, err := baggage.Parse(s)
		require.NoError(t, err)
		return b
	}

	first := e.get(bag("user.id=u1,tenant.id=t1"), tid1)
	again := e.get(bag("tenant.id=t1,user.id=u1"), tid2)
	assert.Same(t, first, again, "the same members in another trace")
	other := e.get(bag("user.id=u2,tenant.id=t1"), tid3)
	assert.Equal(t, []attribute.KeyValue{attribute.String("tenant.id", "t1"), attribute.String("user.id", "u2")}, other.attrs)
}
