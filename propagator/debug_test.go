// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
)

// records is a slog.Handler that keeps the attributes of every record, at
// every level.
type records struct {
	mu  sync.Mutex
	got []map[string]string
}

func (*records) Enabled(context.Context, slog.Level) bool { return true }
func (*records) WithAttrs([]slog.Attr) slog.Handler       { panic("not used") }
func (*records) WithGroup(string) slog.Handler            { panic("not used") }

func (r *records) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]string{"msg": rec.Message, "level": rec.Level.String()}
	rec.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	r.got = append(r.got, m)
	r.mu.Unlock()
	return nil
}

func (r *records) take() []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// logTo makes slog.Default() write to a new records until the test ends.
func logTo(t *testing.T) *records {
	r := &records{}
	prev := slog.Default()
	slog.SetDefault(slog.New(r))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return r
}

func TestDebugDrops(t *testing.T) {
	logs := logTo(t)
	captureErrors(t)
	p := New(WithDebugDrops(), WithIngressAllow("user.id", "tenant.id"), WithIngressDeny("tenant.id"), WithLegacyHeader("x-role", "role"),
		WithEgress(EgressRule{Hosts: []string{"*.internal"}, Keys: []string{"user.id"}}))

	ctx := extract(p, "baggage", "user.id=1,tenant.id=2,secret=3", "x-role", "admin")
	assert.Equal(t, []string{"user.id"}, keysOf(ctx))
	assert.Equal(t, []map[string]string{
		{"msg": "otelctx: inbound baggage member dropped", "level": "DEBUG", "key": "tenant.id", "source": "baggage header",
			"reason": "ingress.denied", "rule": "the key is denied (WithIngressDeny, OTELCTX_INGRESS_DENY)"},
		{"msg": "otelctx: inbound baggage member dropped", "level": "DEBUG", "key": "secret", "source": "baggage header",
			"reason": "ingress.denied", "rule": "no WithIngressAllow or WithIngressPrefixes entry (OTELCTX_INGRESS_ALLOW, OTELCTX_INGRESS_PREFIXES) selects the key"},
		{"msg": "otelctx: inbound baggage member dropped", "level": "DEBUG", "key": "role", "source": "legacy header x-role",
			"reason": "ingress.denied", "rule": "no WithIngressAllow or WithIngressPrefixes entry (OTELCTX_INGRESS_ALLOW, OTELCTX_INGRESS_PREFIXES) selects the key"},
	}, logs.take())

	extract(p, "baggage", "user.id=1", "x-role", "admin")
	assert.Equal(t, "legacy header x-role", logs.take()[0]["source"])
	pub := p.Extract(ContextWithPublicEndpoint(context.Background()), propagationHeader("baggage", "user.id=1"))
	assert.Empty(t, keysOf(pub))
	got := logs.take()
	require.Len(t, got, 1)
	assert.Equal(t, "baggage header, public endpoint", got[0]["source"])
	assert.Equal(t, "ingress.public_endpoint", got[0]["reason"])

	local, err := baggage.Parse("user.id=1,role=admin")
	require.NoError(t, err)
	out := baggage.ContextWithBaggage(context.Background(), local)
	assert.Equal(t, "user.id=1", injectFor(t, p, out, "api.internal").Get("baggage"))
	got = logs.take()
	require.Len(t, got, 1)
	assert.Equal(t, map[string]string{"msg": "otelctx: outbound baggage member withheld", "level": "DEBUG", "key": "role",
		"destination": "api.internal", "reason": "egress.denied",
		"rule": "no egress rule (WithEgress, OTELCTX_EGRESS) grants the key to this destination"}, got[0])

	assert.Empty(t, injectFor(t, p, out, "127.0.0.1:8080").Get("baggage"))
	got = logs.take()
	require.Len(t, got, 2)
	assert.Equal(t, "role", got[0]["key"], "in key order")
	assert.Equal(t, "user.id", got[1]["key"])
	assert.Equal(t, "127.0.0.1:8080", got[1]["destination"], "the developer sees where it was going")
}

// TestDebugDropsInjectAlone: a process where nothing writes the baggage
// for its destination (no NewTransport, no InjectBaggage) sends only what
// Inject writes, and the debug records say what it withholds and why; once
// something does, Inject, which comes before it, logs nothing.
func TestDebugDropsInjectAlone(t *testing.T) {
	prev := destinationAware.Load()
	destinationAware.Store(false)
	t.Cleanup(func() { destinationAware.Store(prev) })
	logs := logTo(t)
	captureErrors(t)
	p := New(WithDebugDrops(), WithEgress(
		EgressRule{Hosts: []string{"*.internal"}, Keys: []string{"user.id"}},
		EgressRule{Hosts: []string{"*"}, Keys: []string{"request.id"}}))
	ctx := extract(p, "traceparent", suiteTraceparent, "baggage", "user.id=1,request.id=r")
	h := propagation.HeaderCarrier{}
	p.Inject(ctx, h)
	assert.Equal(t, "request.id=r", h.Get("baggage"))
	assert.Equal(t, []map[string]string{{"msg": "otelctx: outbound baggage member withheld", "level": "DEBUG", "key": "user.id",
		"destination": "unknown (Inject without NewTransport, InjectBaggage or otelctxgrpc.DialOptions)", "reason": "egress.denied",
		"rule": `no egress rule for every destination ("*" in WithEgress, OTELCTX_EGRESS) grants the key`}}, logs.take())

	NewTransport(nil, p)
	p.Inject(ctx, propagation.HeaderCarrier{})
	assert.Empty(t, logs.take(), "NewTransport writes what the destination is granted after Inject")
}

func TestDebugDropsOff(t *testing.T) {
	logs := logTo(t)
	captureErrors(t)
	p := New(WithIngressAllow("user.id"))
	extract(p, "baggage", "user.id=1,secret=2")
	assert.Empty(t, logs.take())
}

func TestDebugDropsFromEnv(t *testing.T) {
	logs := logTo(t)
	captureErrors(t)
	setEnv(t, map[string]string{envDebugDrops: "true", envIngressAllow: "user.id"})
	extract(New(WithEnv()), "baggage", "user.id=1,secret=2")
	got := logs.take()
	require.Len(t, got, 1)
	assert.Equal(t, "secret", got[0]["key"])
}

// TestDebugDropsBounded: at most debugPerSecond records a second; the first
// record of the next second says how many were left out.
func TestDebugDropsBounded(t *testing.T) {
	logs := logTo(t)
	captureErrors(t)
	p := New(WithDebugDrops(), WithIngressAllow("user.id")).(*propagator)
	now := time.Unix(1000, 0)
	p.rep.now = func() time.Time { return now }
	for range debugPerSecond + 50 {
		extract(p, "baggage", "user.id=1,secret=2")
	}
	got := logs.take()
	assert.Len(t, got, debugPerSecond)
	now = now.Add(time.Second)
	extract(p, "baggage", "user.id=1,secret=2")
	got = logs.take()
	require.Len(t, got, 1)
	assert.Equal(t, "50", got[0]["left_out_before"])
}

// TestDebugDropsLoopback is the developer's case: a local test dials
// 127.0.0.1 while the rule grants *.internal; the server gets no user, and
// the debug record says which key, where to, and which rule was missing.
func TestDebugDropsLoopback(t *testing.T) {
	logs := logTo(t)
	captureErrors(t)
	p := New(WithDebugDrops(), WithEgress(EgressRule{Hosts: []string{"*.internal"}, Keys: []string{"user.id"}}))
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got <- r.Header.Get("baggage") }))
	defer srv.Close()
	client := &http.Client{Transport: otelhttp.NewTransport(NewTransport(srv.Client().Transport, p), otelhttp.WithPropagators(p))}
	defer client.CloseIdleConnections()

	local, err := baggage.Parse("user.id=42")
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(baggage.ContextWithBaggage(context.Background(), local), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	assert.Empty(t, <-got)
	records := logs.take()
	require.Len(t, records, 1)
	assert.Equal(t, "user.id", records[0]["key"])
	assert.Equal(t, strings.TrimPrefix(srv.URL, "http://"), records[0]["destination"])
	assert.Equal(t, "egress.denied", records[0]["reason"])
}

// BenchmarkDebugDrops is BenchmarkDrops with WithDebugDrops on while
// slog.Default() does not write debug records.
func BenchmarkDebugDrops(b *testing.B) {
	p := New(WithDebugDrops(), WithIngressAllow("tenant.id", "user.id"),
		WithEgress(EgressRule{Hosts: []string{"*.internal"}, Keys: []string{"user.id"}}))
	benchDrops(b, p)
}

// injectFor writes ctx's baggage for host as NewTransport does.
func injectFor(t *testing.T, p propagation.TextMapPropagator, ctx context.Context, host string) propagation.MapCarrier {
	t.Helper()
	m := propagation.MapCarrier{}
	require.NoError(t, InjectBaggage(ctx, p, m, host))
	return m
}
