// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// TestPendingSpansBound fills pendingSpans to its bound, as spans started
// and never ended would: from then on no span is kept, a span of an ID in
// flight still makes that ID's entry give nothing, and the spans kept before
// still get their baggage.
func TestPendingSpansBound(t *testing.T) {
	m, err := baggage.NewMemberRaw("k", "v")
	require.NoError(t, err)
	bag, err := baggage.New(m)
	require.NoError(t, err)
	sid := func(i uint64) (s trace.SpanID) {
		binary.LittleEndian.PutUint64(s[:], i)
		return s
	}

	var reports []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { reports = append(reports, err) }))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })

	var ps pendingSpans
	kept := uint64(0)
	for ; ps.add(sid(kept), bag); kept++ {
		require.Less(t, kept, uint64(maxPending), "past the bound")
	}
	assert.True(t, ps.full.Load())
	require.Len(t, reports, 1, "the bound reported once")
	assert.ErrorContains(t, reports[0], "spans in flight")
	assert.GreaterOrEqual(t, kept, uint64(maxPending>>pendingShardBits), "a shard full")

	assert.False(t, ps.add(sid(kept+1000), bag), "no span kept once full")
	assert.Zero(t, ps.take(sid(kept+1000)).Len())

	assert.False(t, ps.add(sid(1), bag), "an ID in flight")
	assert.Zero(t, ps.take(sid(1)).Len(), "neither of the two")
	assert.Zero(t, ps.take(sid(1)).Len())
	assert.Equal(t, "v", ps.take(sid(2)).Member("k").Value(), "kept before")
	assert.Zero(t, ps.take(sid(2)).Len(), "taken once")
	assert.False(t, ps.add(sid(2), bag), "full for good")
	assert.Len(t, reports, 1, "reported once only")
}
