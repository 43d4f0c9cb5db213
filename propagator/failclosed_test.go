// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// receiver is a loopback server that records the propagation headers of
// every request it gets.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	headers []http.Header
}

func newReceiver(t *testing.T, then ...http.Handler) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.headers = append(r.headers, req.Header.Clone())
		r.mu.Unlock()
		for _, h := range then {
			h.ServeHTTP(w, req)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got(t *testing.T) http.Header {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Len(t, r.headers, 1)
	return r.headers[0]
}

// setGlobal installs p as the global propagator for the test.
func setGlobal(t *testing.T, p propagation.TextMapPropagator) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(p)
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
}

// requestCtx returns a ctx with a sampled span and a baggage of one secret
// member.
func requestCtx(t *testing.T) (context.Context, *sdktrace.TracerProvider) {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	m, err := baggage.NewMemberRaw("secret", "s3cr3t")
	require.NoError(t, err)
	bag, err := baggage.New(m)
	require.NoError(t, err)
	ctx, span := tp.Tracer("test").Start(baggage.ContextWithBaggage(context.Background(), bag), "request")
	t.Cleanup(func() { span.End() })
	return ctx, tp
}

func send(t *testing.T, ctx context.Context, c *http.Client, u string, header http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
}

// noBaggage asserts that h carries no baggage under any spelling, and a
// traceparent.
func noBaggage(t *testing.T, h http.Header) {
	t.Helper()
	for k, v := range h {
		assert.False(t, strings.EqualFold(k, "baggage"), "baggage reached an ungranted host: %s: %v", k, v)
	}
	assert.NotEmpty(t, h.Get("traceparent"), "the trace context still flows")
}

// TestInjectClearsStrayBaggage: a baggage entry set before Inject, under any
// spelling, never survives it.
func TestInjectClearsStrayBaggage(t *testing.T) {
	p := New() // no egress rule: no baggage anywhere
	ctx, _ := requestCtx(t)

	h := http.Header{"baggage": {"secret=copied"}, "BAGGAGE": {"secret=2"}, "Baggage": {"secret=3"}}
	p.Inject(ctx, propagation.HeaderCarrier(h))
	noBaggage(t, h)

	m := propagation.MapCarrier{"baggage": "secret=copied", "Baggage": "secret=2"}
	p.Inject(ctx, m)
	for k := range m {
		assert.False(t, strings.EqualFold(k, "baggage"), "%s kept", k)
	}

	// Over the wire: a header copied in lower case, through NewTransport.
	setGlobal(t, p)
	r := newReceiver(t)
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	send(t, ctx, &http.Client{Transport: NewTransport(base, nil)}, r.URL, http.Header{"baggage": {"secret=copied"}})
	for k := range r.got(t) {
		assert.False(t, strings.EqualFold(k, "baggage"), "baggage reached an ungranted host")
	}
}

// TestExtractHostileBounded: the work on a large baggage header is bounded
// by the limits: past four times the bytes that can be kept the header is
// dropped unread, a member that cannot fit is dropped undecoded, and the
// memory allocated per call is a small multiple of what is kept.
func TestExtractHostileBounded(t *testing.T) {
	captureErrors(t)
	p := New()
	for _, tc := range []struct {
		name, header string
		members      int
	}{
		{"many members", hostileBaggage(), 0},
		{"many members, 16 KiB", hostileBaggage()[:16<<10], w3cbaggageMaxMembers()},
		{"one long encoded value", "k=" + strings.Repeat("%41", 1<<20/3), 0},
		{"one long value", "k=" + strings.Repeat("a", 1<<20), 0},
		{"one long key", strings.Repeat("k", 1<<20) + "=v", 0},
		{"long whitespace", "a=1," + strings.Repeat(" ", 1<<20) + ",b=2", 0},
		{"a long member among short ones", "a=1," + strings.Repeat("%41", 9000) + ",b=2", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("baggage", tc.header)
			ctx := p.Extract(context.Background(), propagation.HeaderCarrier(h))
			assert.Equal(t, tc.members, baggage.FromContext(ctx).Len())
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const calls = 10
			for range calls {
				p.Extract(context.Background(), propagation.HeaderCarrier(h))
			}
			runtime.ReadMemStats(&after)
			perCall := (after.TotalAlloc - before.TotalAlloc) / calls
			assert.Less(t, perCall, uint64(64<<10), "bytes allocated per Extract of a 1 MiB header")
		})
	}
}

func w3cbaggageMaxMembers() int { return newConfig().maxMembers }
