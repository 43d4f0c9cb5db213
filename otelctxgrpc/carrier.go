// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc/metadata"
)

// metadataCarrier is a propagation.TextMapCarrier over gRPC metadata, with
// the multi-value reading the otelctx propagator applies to HTTP headers:
// it is a propagation.ValuesGetter, so Extract sees every value of a key
// (several baggage or tracestate entries are combined as RFC 9110 combines
// repeated fields; more than one traceparent is invalid), where a carrier
// that only has Get shows the first.
//
// Keys are looked up in lower case, as gRPC stores them. Binary keys (those
// ending in "-bin") are not text: Get and Values return nothing for them
// and Keys leaves them out, so they never become trace context or baggage.
type metadataCarrier metadata.MD

var (
	_ propagation.TextMapCarrier = metadataCarrier{}
	_ propagation.ValuesGetter   = metadataCarrier{}
)

// Get returns the first value of key, or "".
func (c metadataCarrier) Get(key string) string {
	if vs := c.Values(key); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// Values returns every value of key, in the order received. The slice is
// the metadata's own: callers must not modify it.
func (c metadataCarrier) Values(key string) []string {
	if isBinary(key) {
		return nil
	}
	if vs, ok := c[key]; ok {
		return vs
	}
	return c[strings.ToLower(key)]
}

// Set replaces the values of key with value. Setting a binary key is
// ignored.
func (c metadataCarrier) Set(key, value string) {
	if isBinary(key) {
		return
	}
	metadata.MD(c).Set(key, value)
}

// Keys returns the text keys of the metadata.
func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		if !isBinary(k) {
			keys = append(keys, k)
		}
	}
	return keys
}

func isBinary(key string) bool {
	const suffix = "-bin"
	return len(key) >= len(suffix) && strings.EqualFold(key[len(key)-len(suffix):], suffix)
}

// incomingCarrier reads the incoming metadata of an RPC's ctx as
// metadataCarrier reads metadata, but looks up each key the propagator asks
// for rather than copying the whole metadata first, as
// metadata.FromIncomingContext does. Set does nothing: the propagator only
// reads it.
type incomingCarrier struct{ ctx context.Context }

var (
	_ propagation.TextMapCarrier = incomingCarrier{}
	_ propagation.ValuesGetter   = incomingCarrier{}
)

func (c incomingCarrier) Get(key string) string {
	if vs := c.Values(key); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func (c incomingCarrier) Values(key string) []string {
	if isBinary(key) {
		return nil
	}
	return metadata.ValueFromIncomingContext(c.ctx, key)
}

func (incomingCarrier) Set(string, string) {}

func (c incomingCarrier) Keys() []string {
	md, _ := metadata.FromIncomingContext(c.ctx)
	return metadataCarrier(md).Keys()
}
