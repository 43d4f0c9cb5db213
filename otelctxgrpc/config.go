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

// WithPropagators sets the propagator the server extracts inbound values
// with, as otelgrpc's option of the same name does. Its policy, not this
// package, decides which inbound metadata to trust. Give otelgrpc the same
// one, or leave both to the global propagator. A nil p is ignored.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c config) config {
		if p != nil {
			c.propagator = p
		}
		return c
	})
}

// WithPublicEndpointFn marks the RPCs for which fn reports true as arriving
// at a public endpoint: the propagator then drops their inbound baggage
// except the keys of propagator.WithPublicAllow (it calls
// propagator.ContextWithPublicEndpoint for them). It is the gRPC form of
// that function, with the signature of otelgrpc's option of the same name:
// give both the same function, so that a public RPC both starts a new trace
// and loses untrusted baggage. A nil fn is ignored, as otelgrpc ignores it.
func WithPublicEndpointFn(fn func(context.Context, *stats.RPCTagInfo) bool) Option {
	return optionFunc(func(c config) config {
		if fn != nil {
			c.isPublic = fn
		}
		return c
	})
}
