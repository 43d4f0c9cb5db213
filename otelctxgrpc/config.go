// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc/stats"
)

// config is what ServerOptions is built from.
type config struct {
	propagator propagation.TextMapPropagator
	isPublic   func(context.Context, *stats.RPCTagInfo) bool
}

// newConfig returns the configuration built from the documented defaults and
// opts, applied in order:
//
//   - propagator: otel.GetTextMapPropagator(), read when the options are
//     built;
//   - no RPC is at a public endpoint.
func newConfig(opts ...Option) config {
	var c config
	for _, o := range opts {
		c = o.apply(c)
	}
	if c.propagator == nil {
		c.propagator = otel.GetTextMapPropagator()
	}
	return c
}

// Option configures ServerOptions.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithPropagator sets the propagator the server extracts inbound values
// with. Its policy, not this package, decides which inbound metadata to
// trust. Give otelgrpc the same one (otelgrpc.WithPropagators), or leave
// both to the global propagator.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c config) config {
		c.propagator = p
		return c
	})
}

// WithPublicEndpointFn marks the RPCs for which fn reports true as arriving
// at a public endpoint: the propagator then drops their inbound baggage
// except the keys of propagator.WithPublicAllow (see
// propagator.ContextWithPublicEndpoint). It has the signature of otelgrpc's
// option of the same name: give both the same function, so that a public
// RPC both starts a new trace and loses untrusted baggage. A nil fn marks
// every RPC.
func WithPublicEndpointFn(fn func(context.Context, *stats.RPCTagInfo) bool) Option {
	if fn == nil {
		fn = func(context.Context, *stats.RPCTagInfo) bool { return true }
	}
	return optionFunc(func(c config) config {
		c.isPublic = fn
		return c
	})
}
