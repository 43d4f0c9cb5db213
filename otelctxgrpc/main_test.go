// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestMain(m *testing.M) {
	// otel delegates its default error handler only once, so route it once
	// to a sink tests can swap.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		if sink := errSink.Load(); sink != nil {
			(*sink)(err)
		}
	}))
	goleak.VerifyTestMain(m)
}

var errSink atomic.Pointer[func(error)]

// captureErrors records what is reported through otel.Handle until the test
// ends. Tests using it must not run in parallel.
func captureErrors(t *testing.T) func() []error {
	var mu sync.Mutex
	var errs []error
	sink := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	errSink.Store(&sink)
	t.Cleanup(func() { errSink.Store(nil) })
	return func() []error {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(errs)
	}
}

const (
	unaryMethod  = "/otelctx.test.Echo/Unary"
	streamMethod = "/otelctx.test.Echo/Stream"
)

// echo is a test service without generated code: a unary method and a
// server-streaming one, both taking and returning strings.
type echo struct {
	unary  func(ctx context.Context, in string) (string, error)
	stream func(ctx context.Context, in string, send func(string) error) error
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "otelctx.test.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				out, err := srv.(*echo).unary(ctx, req.(*wrapperspb.StringValue).GetValue())
				return wrapperspb.String(out), err
			}
			if icpt == nil {
				return h(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: unaryMethod}, h)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Stream",
		ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			return srv.(*echo).stream(ss.Context(), in.GetValue(), func(s string) error {
				return ss.SendMsg(wrapperspb.String(s))
			})
		},
	}},
}

// serve starts srv on a loopback port and returns its address.
func serve(t testing.TB, srv *echo, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := grpc.NewServer(opts...)
	s.RegisterService(&echoDesc, srv)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(lis) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return lis.Addr().String()
}

// dial connects to addr under the name target: the dialer ignores the
// name and always dials addr, so targets can name any host.
func dial(t testing.TB, target, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	// No name is looked up: dns targets resolve to addr too.
	dns := manual.NewBuilderWithScheme("dns")
	dns.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: addr}}})
	opts = append(opts,
		grpc.WithResolvers(dns),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}))
	cc, err := grpc.NewClient(target, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func callUnary(ctx context.Context, cc *grpc.ClientConn, in string) (string, error) {
	out := new(wrapperspb.StringValue)
	err := cc.Invoke(ctx, unaryMethod, wrapperspb.String(in), out)
	return out.GetValue(), err
}

func callStream(ctx context.Context, cc *grpc.ClientConn, in string) ([]string, error) {
	cs, err := cc.NewStream(ctx, &echoDesc.Streams[0], streamMethod)
	if err != nil {
		return nil, err
	}
	if err := cs.SendMsg(wrapperspb.String(in)); err != nil {
		return nil, err
	}
	if err := cs.CloseSend(); err != nil {
		return nil, err
	}
	var got []string
	for {
		m := new(wrapperspb.StringValue)
		if err := cs.RecvMsg(m); errors.Is(err, io.EOF) {
			return got, nil
		} else if err != nil {
			return got, err
		}
		got = append(got, m.GetValue())
	}
}

func attrString(k, v string) attribute.KeyValue { return attribute.String(k, v) }
