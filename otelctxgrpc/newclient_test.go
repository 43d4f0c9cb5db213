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
	"google.golang.org/grpc/stats"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/otelctxgrpc"
)

// TestClientMadeInsideRequest makes the ClientConn lazily, inside request
// 1, which then leaves a goroutine running so that its scope stays open,
// and serves request 2's RPCs through it. With NewClient, the dialer, each
// connection read and write and the RPCs' stats callbacks see no request's
// values. grpc.NewClient in the same place, the control, hands request 1's
// values to all of them: that is what NewClient is for.
func TestClientMadeInsideRequest(t *testing.T) {
	if !ambient() {
		t.Skip("ambient lookups need the linkname build")
	}
	addr := serve(t, &echo{unary: func(_ context.Context, in string) (string, error) { return in, nil }})
	for _, tc := range []struct {
		name  string
		dial  func(string, ...grpc.DialOption) (*grpc.ClientConn, error)
		leaks bool
	}{
		{"NewClient", otelctxgrpc.NewClient, false},
		{"grpc.NewClient", grpc.NewClient, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := asynctrack.NewStore[string]()
			var mu sync.Mutex
			seen := map[string]bool{} // the values seen, "" for none
			record := func() {
				v, _ := store.Current()
				mu.Lock()
				seen[v] = true
				mu.Unlock()
			}
			opts := append(otelctxgrpc.DialOptions(nil),
				grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithStatsHandler(seenStats{record}),
				grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
					record()
					c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
					if err != nil {
						return nil, err
					}
					return &seenConn{Conn: c, seen: record}, nil
				}))

			var (
				once sync.Once
				cc   *grpc.ClientConn
				err  error
			)
			client := func() *grpc.ClientConn {
				once.Do(func() { cc, err = tc.dial("passthrough:///backend", opts...) })
				require.NoError(t, err)
				return cc
			}
			release := make(chan struct{})
			left := make(chan struct{})
			store.Run(context.Background(), "user-1", func(ctx context.Context) {
				client() // made lazily, inside request 1, not yet connected
				asynctrack.Go(ctx, func(context.Context) { defer close(left); <-release })
			})
			store.Run(context.Background(), "user-2", func(ctx context.Context) {
				for range 3 {
					_, err := callUnary(ctx, client(), "2")
					require.NoError(t, err)
				}
			})
			close(release)
			<-left
			require.NoError(t, cc.Close())

			mu.Lock()
			defer mu.Unlock()
			assert.True(t, seen[""] || seen["user-1"], "the dialer, the connection and the stats callbacks ran")
			assert.False(t, seen["user-2"], "callbacks without the RPC's ctx never see the RPC's own values ambiently")
			if tc.leaks {
				assert.True(t, seen["user-1"], "the control: gRPC's goroutines inherit the request they were made in")
			} else {
				assert.False(t, seen["user-1"], "request 2's RPCs ran on goroutines that saw request 1's values")
			}
		})
	}
}

// seenStats records what the goroutines that run its callbacks see.
type seenStats struct{ seen func() }

func (s seenStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (s seenStats) HandleRPC(_ context.Context, st stats.RPCStats) {
	switch st.(type) {
	case *stats.InHeader, *stats.InTrailer, *stats.InPayload:
		s.seen()
	}
}
func (s seenStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (s seenStats) HandleConn(context.Context, stats.ConnStats)                       {}
