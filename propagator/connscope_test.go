// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/propagator"
)

// seenConn records, on each Read and Write, the value its goroutine sees
// ambiently: net/http reads and writes a pooled connection on goroutines of
// its own, started from the request that dialed it.
type seenConn struct {
	net.Conn
	seen func()
}

func (c *seenConn) Read(p []byte) (int, error)  { c.seen(); return c.Conn.Read(p) }
func (c *seenConn) Write(p []byte) (int, error) { c.seen(); return c.Conn.Write(p) }

// TestTransportConnectionsCarryNoRequest: with a connection dialed by
// request 1 and reused by request 2 while request 1's scope is still open,
// the connection's goroutines see no request through NewTransport; through
// the bare http.Transport they see request 1's values during request 2.
func TestTransportConnectionsCarryNoRequest(t *testing.T) {
	if !ambient() {
		t.Skip("ambient lookups need the linkname build")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name  string
		wrap  func(http.RoundTripper) http.RoundTripper
		leaks bool
	}{
		{"bare http.Transport", func(rt http.RoundTripper) http.RoundTripper { return rt }, true},
		{"NewTransport", func(rt http.RoundTripper) http.RoundTripper { return propagator.NewTransport(rt, nil) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := asynctrack.NewStore[string]()
			var mu sync.Mutex
			phase := "request-1"
			seen := map[string][]string{} // phase -> values seen on the connection
			base := &http.Transport{
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if err != nil {
						return nil, err
					}
					return &seenConn{Conn: c, seen: func() {
						v, _ := store.Current()
						mu.Lock()
						seen[phase] = append(seen[phase], v)
						mu.Unlock()
					}}, nil
				},
			}
			defer base.CloseIdleConnections()
			client := &http.Client{Transport: tc.wrap(base)}
			get := func(ctx context.Context) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				require.NoError(t, err)
				resp, err := client.Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				require.NoError(t, resp.Body.Close())
			}

			store.Run(context.Background(), "user-1", func(ctx context.Context) {
				get(ctx)
				mu.Lock()
				phase = "request-2"
				mu.Unlock()
				done := make(chan struct{})
				asynctrack.Go(context.Background(), func(context.Context) {
					defer close(done)
					store.Run(context.Background(), "user-2", func(ctx context.Context) { get(ctx) })
				})
				<-done
			})

			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, seen["request-2"], "request 2 reused the connection")
			if tc.leaks {
				assert.Contains(t, seen["request-2"], "user-1", "the gap NewTransport closes")
				return
			}
			for p, values := range seen {
				for _, v := range values {
					assert.Empty(t, v, "%s: a connection goroutine saw a request's values", p)
				}
			}
		})
	}
}

// ambient reports whether this build finds scopes without a ctx.
func ambient() bool {
	ok := false
	s := asynctrack.NewStore[int]()
	s.Run(context.Background(), 1, func(context.Context) { _, ok = s.Current() })
	return ok
}
