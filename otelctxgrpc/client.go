// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/internal/ambientotel"
	"github.com/otelctx/otelctx/internal/scopehook"
	"github.com/otelctx/otelctx/propagator"
)

const baggageKey = "baggage"

// DialOptions returns the gRPC dial options that send each RPC's baggage
// exactly as far as the egress rules of p grant it to the RPC's
// destination, whatever wrote the outgoing metadata before, as
// propagator.NewTransport does for HTTP. p is a propagator
// propagator.New returned, or a composite holding one; nil stands for the
// global propagator, read at each RPC. The trace context flows as the
// stats handlers wrote it.
//
// handlers are the ClientConn's other stats handlers, otelgrpc's among
// them: DialOptions registers them, each RPC runs them first, and then the
// baggage in the metadata they wrote is replaced by what the destination is
// granted (propagator.InjectBaggage):
//
//	cc, err := grpc.NewClient("dns:///billing.internal:50051", append(
//		otelctxgrpc.DialOptions(nil, otelgrpc.NewClientHandler()),
//		grpc.WithTransportCredentials(creds))...)
//
// A stats handler registered on its own after these options runs after
// them, with a ctx without baggage (so does the client stream's Context):
// whatever it injects, no member beyond the grant leaves. If it still
// changes the baggage metadata (an otelctx propagator clears it), the first
// such RPC is reported through otel.Handle.
//
// The destination is the endpoint of the target as gRPC parses it to
// resolve and dial (ClientConn.CanonicalTarget), never the authority an
// option overrides:
//
//	host:port, dns:///host:port, dns://resolver/host:port  host:port
//	passthrough:///host:port                               host:port
//	dns:///host:port?query#fragment                        host:port (gRPC drops both)
//	any registered scheme, e.g. xds:///name               name
//	unix:path, unix:///path, unix-abstract:name           localhost
//	a scheme with nothing after it                        none: only "*" rules apply
//
// A target without a registered scheme is an endpoint of the default scheme
// (dns for grpc.NewClient). The port is the target's, or none: an egress
// rule with a port matches only targets that name it. A Unix socket is on
// this machine, so its destination is "localhost", the authority gRPC
// sends for it.
//
// Each RPC is started outside every asynctrack scope (asynctrack.Exit): the
// first RPC on an idle ClientConn starts its resolver, balancer and
// transport goroutines, which serve later RPCs too and must not carry its
// values. The RPC's ctx still carries its span, baggage, deadline and
// cancellation. A ClientConn that grpc.Dial connects eagerly should be
// created outside any request, or inside asynctrack.Exit.
func DialOptions(p propagation.TextMapPropagator, handlers ...stats.Handler) []grpc.DialOption {
	h := &clientHandler{prop: p, inner: slices.Clone(handlers)}
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(h.unary),
		grpc.WithChainStreamInterceptor(h.stream),
		grpc.WithStatsHandler(h),
	}
}

// clientHandler runs the inner stats handlers, then writes each RPC's
// baggage for the destination its interceptors recorded.
type clientHandler struct {
	prop                  propagation.TextMapPropagator // nil: the global one
	inner                 []stats.Handler
	noPolicy, overwritten sync.Once
	last                  atomic.Pointer[connDestination] // the last ClientConn's, to spare parsing
}

// connDestination is a ClientConn's destination.
type connDestination struct {
	cc   *grpc.ClientConn
	host string
}

var _ stats.Handler = (*clientHandler)(nil)

// rpcEgress is what the interceptors record in an RPC's ctx for the stats
// handler built with them, and only for it (owner): the destination, and
// then the baggage metadata TagRPC wrote, for HandleRPC's check. One RPC's
// attempts run one after the other, each TagRPC before its headers.
type rpcEgress struct {
	owner *clientHandler
	host  string
	wrote baggageValue // "" for none
}

// baggageValue is the carrier TagRPC has propagator.InjectBaggage write to:
// it keeps the baggage value, so that the outgoing metadata is copied only
// when it holds a baggage entry to replace.
type baggageValue struct{ value string }

func (*baggageValue) Get(string) string { return "" }
func (*baggageValue) Keys() []string    { return nil }
func (b *baggageValue) Set(key, value string) {
	if key == baggageKey {
		b.value = value
	}
}

type egressKey struct{}

// egressCtx is an RPC's ctx with its rpcEgress, in one allocation.
type egressCtx struct {
	context.Context
	e rpcEgress
}

func (c *egressCtx) Value(key any) any {
	if key == (egressKey{}) {
		return &c.e
	}
	return c.Context.Value(key)
}

func (h *clientHandler) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) (err error) {
	ctx = ambientotel.Adopt(ctx)
	scoped := inScope(ctx)
	ctx = h.withDestination(ctx, cc)
	if !scoped {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	asynctrack.Exit(ctx, func(ctx context.Context) {
		err = invoker(ctx, method, req, reply, cc, opts...)
	})
	return err
}

func (h *clientHandler) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (cs grpc.ClientStream, err error) {
	ctx = ambientotel.Adopt(ctx)
	scoped := inScope(ctx)
	ctx = h.withDestination(ctx, cc)
	if !scoped {
		return streamer(ctx, desc, cc, method, opts...)
	}
	asynctrack.Exit(ctx, func(ctx context.Context) {
		cs, err = streamer(ctx, desc, cc, method, opts...)
	})
	return cs, err
}

// inScope reports whether an RPC started from ctx on the calling goroutine
// would be started inside an asynctrack scope: ctx carries one's frame, or
// one is ambient. Outside every scope asynctrack.Exit has nothing to leave.
func inScope(ctx context.Context) bool {
	return asynctrack.Ambient() != context.Background() || scopehook.HasFrame(ctx)
}

func (h *clientHandler) withDestination(ctx context.Context, cc *grpc.ClientConn) context.Context {
	d := h.last.Load()
	if d == nil || d.cc != cc {
		d = &connDestination{cc: cc, host: destination(cc.CanonicalTarget())}
		h.last.Store(d)
	}
	return &egressCtx{Context: ctx, e: rpcEgress{owner: h, host: d.host}}
}

// egress returns the rpcEgress of h's interceptors in ctx, or nil.
func (h *clientHandler) egress(ctx context.Context) *rpcEgress {
	if e, ok := ctx.Value(egressKey{}).(*rpcEgress); ok && e.owner == h {
		return e
	}
	return nil
}

// TagRPC runs the inner handlers' TagRPC, then replaces the baggage in the
// outgoing metadata with what the destination is granted, and removes the
// baggage from the ctx it returns.
func (h *clientHandler) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	for _, in := range h.inner {
		ctx = in.TagRPC(ctx, info)
	}
	written := len(metadata.ValueFromOutgoingContext(ctx, baggageKey)) > 0
	if baggage.FromContext(ctx).Len() == 0 && !written {
		return ctx
	}
	e := h.egress(ctx)
	if e == nil {
		// The destination is unknown unless this handler's interceptors
		// recorded it.
		e = &rpcEgress{}
	}
	bg := &e.wrote
	*bg = baggageValue{} // a retry's attempt writes its own
	if err := propagator.InjectBaggage(ctx, h.prop, bg, e.host); err != nil {
		h.noPolicy.Do(func() { otel.Handle(err) })
	}
	// What runs after this (a stats handler registered later, which would
	// inject again) sees no baggage: it cannot send more than the grant.
	ctx = baggage.ContextWithoutBaggage(ctx)
	if !written {
		if bg.value == "" {
			return ctx
		}
		return metadata.AppendToOutgoingContext(ctx, baggageKey, bg.value)
	}
	md, _ := metadata.FromOutgoingContext(ctx) // a copy, keys in lower case
	delete(md, baggageKey)
	if bg.value != "" {
		md[baggageKey] = []string{bg.value}
	}
	return metadata.NewOutgoingContext(ctx, md)
}

// HandleRPC runs the inner handlers' HandleRPC. When the headers are sent,
// it checks that their baggage is what TagRPC wrote.
func (h *clientHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	for _, in := range h.inner {
		in.HandleRPC(ctx, s)
	}
	out, ok := s.(*stats.OutHeader)
	if !ok || !out.Client {
		return
	}
	e := h.egress(ctx)
	if e == nil {
		return
	}
	if sent, wrote := out.Header[baggageKey], e.wrote.value; wrote == "" && len(sent) > 0 || wrote != "" && (len(sent) != 1 || sent[0] != wrote) {
		h.overwritten.Do(func() { otel.Handle(errOverwritten) })
	}
}

var errOverwritten = errors.New("otelctxgrpc: a stats handler registered after DialOptions changed the RPC's " +
	"baggage metadata, so the destination did not get its grant: pass the handler to DialOptions instead, " +
	"otelctxgrpc.DialOptions(p, otelgrpc.NewClientHandler())")

// TagConn runs the inner handlers' TagConn.
func (h *clientHandler) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	for _, in := range h.inner {
		ctx = in.TagConn(ctx, info)
	}
	return ctx
}

// HandleConn runs the inner handlers' HandleConn.
func (h *clientHandler) HandleConn(ctx context.Context, s stats.ConnStats) {
	for _, in := range h.inner {
		in.HandleConn(ctx, s)
	}
}

// destination returns the destination egress rules match for a ClientConn
// whose canonical target is canonical, "<scheme>://[authority]/<endpoint>"
// (see DialOptions); "" if it has no endpoint or another form.
func destination(canonical string) string {
	scheme, rest, ok := strings.Cut(canonical, "://")
	if !ok {
		return ""
	}
	_, endpoint, ok := strings.Cut(rest, "/")
	if !ok || endpoint == "" {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "unix", "unix-abstract":
		return "localhost"
	}
	return endpoint
}
