// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc

import (
	"context"
	"hash/maphash"
	"sync/atomic"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/internal/envcheck"
	"github.com/otelctx/otelctx/propagator"
)

// TypeGRPCRequest is the asynctrack resource type of the RPCs a server
// built with ServerOptions serves.
const TypeGRPCRequest = "grpc.request"

// ServerOptions returns the gRPC server options that run every RPC, unary or
// streaming, in an asynctrack resource of its own, of type "grpc.request"
// with the full method name as the resource value: the handler's context,
// and everything the handler starts, ambiently included, see the RPC's
// values. The resource is per RPC (a stream is one RPC), never per
// connection, and ends when the handler returns.
//
// Inbound values come through the propagator (WithPropagators) from the
// RPC's metadata, which it sees with every value of a key, as HTTP headers:
// the options read no metadata themselves, so a key the propagator's policy
// does not accept never becomes a value, and legacy keys become values when
// the propagator maps them (the otelctx propagator's WithLegacyHeader).
// WithPublicEndpointFn marks the RPCs that arrive from the internet.
//
// The options are a stats.Handler, which extracts, and a unary and a stream
// interceptor, which open the scope (a stats handler cannot run the
// handler). Put them before otelgrpc's handler, which is the recommended
// order:
//
//	srv := grpc.NewServer(append(otelctxgrpc.ServerOptions(),
//		grpc.StatsHandler(otelgrpc.NewServerHandler()))...)
//
// otelgrpc then starts its server span from the values this package
// extracted under the policy, so span processors see them; given the same
// otelctx propagator, its own extraction finds the fields already extracted
// and costs a comparison, and dropped members are counted once. In the other
// order the handler and what it starts see the same values all the same,
// with otelgrpc's span, but otelgrpc's own span was started from what
// otelgrpc extracted: only the first value of each key, and, unless
// otelgrpc got the same propagator, past the public-endpoint policy.
// Interceptors given to the server after these options run inside the
// scope.
func ServerOptions(opts ...Option) []grpc.ServerOption {
	c := newConfig(opts...)
	h := &serverHandler{prop: c.propagator, isPublic: c.isPublic}
	return []grpc.ServerOption{
		grpc.StatsHandler(h),
		grpc.ChainUnaryInterceptor(unaryScope),
		grpc.ChainStreamInterceptor(streamScope),
	}
}

// serverHandler extracts each RPC's inbound values.
type serverHandler struct {
	prop     propagation.TextMapPropagator
	isPublic func(context.Context, *stats.RPCTagInfo) bool
}

var _ stats.Handler = (*serverHandler)(nil)

// TagRPC returns ctx with the RPC's trace context and baggage.
func (h *serverHandler) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if h.isPublic != nil && h.isPublic(ctx, info) {
		ctx = propagator.ContextWithPublicEndpoint(ctx)
	}
	carrier := incomingCarrier{ctx}
	span := trace.SpanFromContext(ctx)
	if !span.SpanContext().IsValid() {
		return h.prop.Extract(ctx, carrier)
	}
	// A handler before this one (otelgrpc's) extracted already, with a
	// carrier that shows one value per key and perhaps without the public
	// mark: extract the baggage again, in place of its, and keep its span.
	ctx = h.prop.Extract(baggage.ContextWithoutBaggage(ctx), carrier)
	return trace.ContextWithSpan(ctx, span)
}

// HandleRPC does nothing.
func (*serverHandler) HandleRPC(context.Context, stats.RPCStats) {}

// TagConn returns ctx.
func (*serverHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

// HandleConn does nothing.
func (*serverHandler) HandleConn(context.Context, stats.ConnStats) {}

func unaryScope(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	envcheck.Served() // TagRPC extracted
	res := asynctrack.NewResource(ctx, TypeGRPCRequest, methodValue(info.FullMethod))
	defer res.Destroy()
	res.Run(func(ctx context.Context) { resp, err = handler(ctx, req) })
	return resp, err
}

func streamScope(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	envcheck.Served() // TagRPC extracted
	res := asynctrack.NewResource(ss.Context(), TypeGRPCRequest, methodValue(info.FullMethod))
	defer res.Destroy()
	res.Run(func(ctx context.Context) { err = handler(srv, &scopedStream{ServerStream: ss, ctx: ctx}) })
	return err
}

// methodSlots hold the method names last made resource values, each in a
// slot of its hash (see methodValue).
var (
	methodSeed  = maphash.MakeSeed()
	methodSlots [64]atomic.Pointer[methodName]
)

// methodName is a full method name and the same name as an interface
// value.
type methodName struct {
	name  string
	value any
}

// methodValue returns method as an interface value: the one made for the
// last RPC of that method in its slot, so that a server's RPCs, of a few
// methods, do not each allocate their resource's value.
func methodValue(method string) any {
	slot := &methodSlots[maphash.String(methodSeed, method)%uint64(len(methodSlots))]
	if m := slot.Load(); m != nil && m.name == method {
		return m.value
	}
	m := &methodName{name: method, value: method}
	slot.Store(m)
	return m.value
}

// scopedStream is a server stream whose context is the RPC resource's.
type scopedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *scopedStream) Context() context.Context { return s.ctx }
