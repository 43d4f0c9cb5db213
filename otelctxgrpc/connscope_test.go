// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc_test

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/otelctxgrpc"
)

// seenConn records, on each Read and Write, what its goroutine sees
// ambiently: gRPC reads and writes a connection on goroutines of its own.
type seenConn struct {
	net.Conn
	seen func()
}

func (c *seenConn) Read(p []byte) (int, error)  { c.seen(); return c.Conn.Read(p) }
func (c *seenConn) Write(p []byte) (int, error) { c.seen(); return c.Conn.Write(p) }

// TestConnectionsCarryNoRPC: a ClientConn made outside any request, first
// used by request 1 and then by request 2 while request 1's scope is still
// open: its resolver and transport goroutines see no request. grpc 1.85
// starts them from goroutines of the ClientConn's own, so this holds
// without DialOptions too; DialOptions makes it hold whatever gRPC does
// (each RPC starts outside every scope), and this test guards both.
func TestConnectionsCarryNoRPC(t *testing.T) {
	if !ambient() {
		t.Skip("ambient lookups need the linkname build")
	}
	addr := serve(t, &echo{unary: func(_ context.Context, in string) (string, error) { return in, nil }})
	for _, tc := range []struct {
		name string
		opts []grpc.DialOption
	}{
		{"bare", nil},
		{"DialOptions", otelctxgrpc.DialOptions(nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := asynctrack.NewStore[string]()
			var mu sync.Mutex
			phase := "request-1"
			seen := map[string][]string{}
			opts := append(tc.opts,
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
					if err != nil {
						return nil, err
					}
					return &seenConn{Conn: c, seen: func() {
						v, _ := store.Current()
						mu.Lock()
						seen[phase] = append(seen[phase], v)
						mu.Unlock()
					}}, nil
				}))
			// Resolvers start their goroutines from Build.
			opts = append(opts, grpc.WithResolvers(&seenResolver{addr: addr, seen: func() {
				v, _ := store.Current()
				mu.Lock()
				seen["resolver"] = append(seen["resolver"], v)
				mu.Unlock()
			}}))
			cc, err := grpc.NewClient("seen:///svc:1", opts...)
			require.NoError(t, err)
			defer cc.Close()

			store.Run(context.Background(), "user-1", func(ctx context.Context) {
				_, err := callUnary(ctx, cc, "1")
				require.NoError(t, err)
				mu.Lock()
				phase = "request-2"
				mu.Unlock()
				done := make(chan error)
				asynctrack.Go(context.Background(), func(context.Context) {
					store.Run(context.Background(), "user-2", func(ctx context.Context) {
						_, err := callUnary(ctx, cc, "2")
						done <- err
					})
				})
				require.NoError(t, <-done)
			})

			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, seen["request-2"], "request 2 used the connection")
			require.NotEmpty(t, seen["resolver"], "the resolver was built")
			for p, values := range seen {
				for _, v := range values {
					assert.Empty(t, v, "%s: a connection goroutine saw a request's values", p)
				}
			}
		})
	}
}

// seenResolver resolves every target to addr, and calls seen in Build.
type seenResolver struct {
	addr string
	seen func()
}

func (r *seenResolver) Scheme() string { return "seen" }

func (r *seenResolver) Build(_ resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) (resolver.Resolver, error) {
	r.seen()
	return nopResolver{}, cc.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: r.addr}}})
}

type nopResolver struct{}

func (nopResolver) ResolveNow(resolver.ResolveNowOptions) {}
func (nopResolver) Close()                                {}

// ambient reports whether this build finds scopes without a ctx.
func ambient() bool {
	ok := false
	s := asynctrack.NewStore[int]()
	s.Run(context.Background(), 1, func(context.Context) { _, ok = s.Current() })
	return ok
}

// TestRPCStartsOutsideScopes: what an RPC runs on the calling goroutine
// after DialOptions' interceptor (here a later interceptor) sees no
// request, neither ambiently nor in its ctx, whether the request's scope is
// ambient, only in the ctx the RPC is given, or both; outside every
// request, it keeps the ctx's other values.
func TestRPCStartsOutsideScopes(t *testing.T) {
	if !ambient() {
		t.Skip("ambient lookups need the linkname build")
	}
	addr := serve(t, &echo{unary: func(_ context.Context, in string) (string, error) { return in, nil }})
	store := asynctrack.NewStore[string]()
	type seen struct{ ambient, inCtx, other string }
	var got seen
	type otherKey struct{}
	later := grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		got.ambient, _ = store.Current()
		got.inCtx, _ = store.Value(ctx)
		got.other, _ = ctx.Value(otherKey{}).(string)
		return invoker(ctx, method, req, reply, cc, opts...)
	})
	cc := dial(t, "svc:1", addr, append(otelctxgrpc.DialOptions(nil), later)...)
	call := func(ctx context.Context) seen {
		got = seen{}
		_, err := callUnary(ctx, cc, "x")
		require.NoError(t, err)
		return got
	}
	base := context.WithValue(context.Background(), otherKey{}, "kept")

	store.Run(base, "user-1", func(ctx context.Context) {
		assert.Equal(t, seen{other: "kept"}, call(ctx), "ambient and in the ctx")
		assert.Equal(t, seen{other: "kept"}, call(base), "ambient only")
	})
	assert.Equal(t, seen{other: "kept"}, call(store.With(base, "user-2")), "in the ctx only")
	assert.Equal(t, seen{other: "kept"}, call(base), "outside every request")
}
