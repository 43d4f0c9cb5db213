// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/otelctx/otelctx/propagator"
)

func TestMetadataCarrier(t *testing.T) {
	md := metadata.Pairs("baggage", "a=1", "baggage", "b=2", "x-legacy", "L", "baggage-bin", "c=3")
	c := metadataCarrier(md)
	assert.Equal(t, []string{"a=1", "b=2"}, c.Values("baggage"))
	assert.Equal(t, []string{"a=1", "b=2"}, c.Values("Baggage"))
	assert.Equal(t, "a=1", c.Get("baggage"))
	assert.Empty(t, c.Values("baggage-bin"), "binary keys are not text")
	assert.Empty(t, c.Get("Baggage-Bin"))
	assert.ElementsMatch(t, []string{"baggage", "x-legacy"}, c.Keys())
	c.Set("Traceparent", "tp")
	c.Set("x-bin", "ignored")
	assert.Equal(t, []string{"tp"}, md["traceparent"])
	assert.NotContains(t, md, "x-bin")

	// Through the propagator: every baggage value counts, two traceparents
	// are none.
	p := propagator.New(propagator.WithLegacyHeader("X-Legacy", "legacy"))
	md.Set("traceparent",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203332-01")
	ctx := p.Extract(context.Background(), c)
	bag := baggage.FromContext(ctx)
	assert.Equal(t, "1", bag.Member("a").Value())
	assert.Equal(t, "2", bag.Member("b").Value())
	assert.Equal(t, "L", bag.Member("legacy").Value())
	assert.Empty(t, bag.Member("c").Value())
	assert.False(t, trace.SpanContextFromContext(ctx).IsValid())
}
