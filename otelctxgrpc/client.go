// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc

import (
	"context"
	"net/url"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/propagator"
)

const baggageKey = "baggage"

// DialOptions returns the gRPC dial options that make each RPC's
// destination, Destination of the ClientConn's target, known to the
// propagator's Inject (see propagator.ContextWithDestination), so that
// egress rules apply to gRPC exactly as to HTTP. Whatever baggage they
// withhold, the trace context flows and otelgrpc records its span.
//
// They are interceptors, which run before every stats handler, so they
// compose with otelgrpc.NewClientHandler in either order:
//
//	cc, err := grpc.NewClient(target, append(otelctxgrpc.DialOptions(),
//		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
//		grpc.WithTransportCredentials(creds))...)
//
// A baggage entry already in the outgoing metadata (copied from an incoming
// RPC, say) is removed, so that only what the propagator injects leaves the
// process: the egress policy fails closed.
//
// Each RPC is started outside every asynctrack scope (asynctrack.Exit): the
// first RPC on an idle ClientConn starts its resolver, balancer and
// transport goroutines, which serve later RPCs too and must not carry its
// values. The RPC's ctx still carries its span, baggage, deadline and
// cancellation. A ClientConn that grpc.Dial connects eagerly should be
// created outside any request, or inside asynctrack.Exit.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(unaryClient),
		grpc.WithChainStreamInterceptor(streamClient),
	}
}

func unaryClient(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) (err error) {
	asynctrack.Exit(outgoing(ctx, cc), func(ctx context.Context) {
		err = invoker(ctx, method, req, reply, cc, opts...)
	})
	return err
}

func streamClient(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (cs grpc.ClientStream, err error) {
	asynctrack.Exit(outgoing(ctx, cc), func(ctx context.Context) {
		cs, err = streamer(ctx, desc, cc, method, opts...)
	})
	return cs, err
}

// outgoing returns ctx with cc's destination and no baggage metadata.
func outgoing(ctx context.Context, cc *grpc.ClientConn) context.Context {
	if dst := Destination(cc.Target()); dst != "" {
		ctx = propagator.ContextWithDestination(ctx, dst)
	}
	if len(metadata.ValueFromOutgoingContext(ctx, baggageKey)) > 0 {
		md, _ := metadata.FromOutgoingContext(ctx)
		md.Delete(baggageKey)
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	return ctx
}

// Destination returns the destination that egress rules match for a gRPC
// target, as grpc.NewClient reads the target:
//
//	host:port, dns:///host:port, dns://resolver/host:port  host:port
//	passthrough:///host:port, passthrough:host:port       host:port
//	any registered scheme, e.g. xds:///name               name
//	unix:path, unix:///path, unix-abstract:name           localhost
//	"" or a scheme with nothing after it                  "" (no destination)
//
// A target without a registered scheme is an endpoint of grpc.NewClient's
// default scheme, dns. The port is the target's, or none: an egress rule
// with a port matches only targets that name it. A Unix socket is on this
// machine, so its destination is "localhost", the authority gRPC sends for
// it. Without a destination only rules for "*" apply.
func Destination(target string) string {
	scheme, rest, ok := strings.Cut(target, ":")
	if !ok || scheme == "" || resolver.Get(strings.ToLower(scheme)) == nil {
		return target
	}
	switch strings.ToLower(scheme) {
	case "unix", "unix-abstract":
		return "localhost"
	}
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		_, rest, _ = strings.Cut(after, "/") // drop the authority
	}
	rest, _, _ = strings.Cut(rest, "?")
	if strings.IndexByte(rest, '%') >= 0 {
		if dec, err := url.PathUnescape(rest); err == nil {
			rest = dec
		}
	}
	return rest
}
