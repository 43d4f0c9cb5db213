// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/otelctxgrpc"
	"github.com/otelctx/otelctx/propagator"
)

// stack is a client and a server on loopback, both instrumented with
// otelgrpc and this package, sharing one tracer provider.
type stack struct {
	rec  *tracetest.SpanRecorder
	tp   *sdktrace.TracerProvider
	prop propagation.TextMapPropagator
	addr string

	mu   sync.Mutex
	wire []metadata.MD // as the server received it
}

type stackOpts struct {
	prop          propagation.TextMapPropagator
	server        []otelctxgrpc.Option
	otelgrpcFirst bool
	isPublic      func(context.Context, *stats.RPCTagInfo) bool
}

func newStack(t testing.TB, srv *echo, o stackOpts) *stack {
	s := &stack{rec: tracetest.NewSpanRecorder(), prop: o.prop}
	s.tp = sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(baggagebridge.NewSpanProcessor()),
		sdktrace.WithSpanProcessor(s.rec))
	t.Cleanup(func() { _ = s.tp.Shutdown(context.Background()) })
	gopts := []otelgrpc.Option{otelgrpc.WithTracerProvider(s.tp), otelgrpc.WithPropagators(o.prop)}
	if o.isPublic != nil {
		gopts = append(gopts, otelgrpc.WithPublicEndpointFn(o.isPublic))
	}
	ours := otelctxgrpc.ServerOptions(append([]otelctxgrpc.Option{otelctxgrpc.WithPropagators(o.prop)}, o.server...)...)
	theirs := grpc.StatsHandler(otelgrpc.NewServerHandler(gopts...))
	var opts []grpc.ServerOption
	if o.otelgrpcFirst {
		opts = append([]grpc.ServerOption{theirs}, ours...)
	} else {
		opts = append(ours, theirs)
	}
	record := func(ctx context.Context) {
		md, _ := metadata.FromIncomingContext(ctx)
		s.mu.Lock()
		s.wire = append(s.wire, md)
		s.mu.Unlock()
	}
	opts = append(opts,
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			record(ctx)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			record(ss.Context())
			return h(srv, ss)
		}))
	s.addr = serve(t, srv, opts...)
	return s
}

// client dials the stack's server under the name target.
func (s *stack) client(t testing.TB, target string) *grpc.ClientConn {
	return dial(t, target, s.addr, otelctxgrpc.DialOptions(s.prop,
		otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(s.tp), otelgrpc.WithPropagators(s.prop)))...)
}

func withBaggage(t testing.TB, ctx context.Context, kv ...string) context.Context {
	var ms []baggage.Member
	for i := 0; i < len(kv); i += 2 {
		m, err := baggage.NewMember(kv[i], kv[i+1])
		require.NoError(t, err)
		ms = append(ms, m)
	}
	bag, err := baggage.New(ms...)
	require.NoError(t, err)
	return baggage.ContextWithBaggage(ctx, bag)
}

// observe returns what a handler sees of key: in its ctx, in a plain go
// statement, in asynctrack.Go, in a pool task and in a timer.
func observe(ctx context.Context, key string) string {
	var got [5]string
	got[0], _ = baggagebridge.Get(ctx, key)
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); got[1], _ = baggagebridge.Current(key) }()
	asynctrack.Go(ctx, func(context.Context) { defer wg.Done(); got[2], _ = baggagebridge.Current(key) })
	pool := asynctrack.NewPool(context.Background(), 1) // as if made before the RPC
	if err := pool.Submit(ctx, func(context.Context) { defer wg.Done(); got[3], _ = baggagebridge.Current(key) }); err != nil {
		wg.Done()
		got[3] = err.Error()
	}
	asynctrack.AfterFunc(ctx, 0, func(context.Context) { defer wg.Done(); got[4], _ = baggagebridge.Current(key) })
	wg.Wait()
	pool.Close()
	return strings.Join(got[:], ",")
}

var echoValues = &echo{
	unary: func(ctx context.Context, key string) (string, error) { return observe(ctx, key), nil },
	stream: func(ctx context.Context, key string, send func(string) error) error {
		for range 2 {
			if err := send(observe(ctx, key)); err != nil {
				return err
			}
		}
		return nil
	},
}

// serverSpans waits for the n server spans rec records, which end after
// their RPCs' responses are sent, and returns them.
func serverSpans(t *testing.T, rec *tracetest.SpanRecorder, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	var servers []sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		servers = servers[:0]
		for _, sp := range rec.Ended() {
			if sp.SpanKind() == trace.SpanKindServer {
				servers = append(servers, sp)
			}
		}
		return len(servers) >= n
	}, 5*time.Second, 5*time.Millisecond)
	require.Len(t, servers, n)
	return servers
}

func TestServerScope(t *testing.T) {
	for _, first := range []bool{false, true} {
		t.Run(fmt.Sprintf("otelgrpcFirst=%v", first), func(t *testing.T) {
			prop := propagator.New(propagator.WithEgress(propagator.EgressRule{Hosts: []string{"svc-a"}, Keys: []string{"user.id"}}))
			s := newStack(t, echoValues, stackOpts{prop: prop, otelgrpcFirst: first})
			cc := s.client(t, "dns:///svc-a:50051")
			ctx := withBaggage(t, context.Background(), "user.id", "u1")

			got, err := callUnary(ctx, cc, "user.id")
			require.NoError(t, err)
			assert.Equal(t, "u1,u1,u1,u1,u1", got)
			got2, err := callStream(ctx, cc, "user.id")
			require.NoError(t, err)
			assert.Equal(t, []string{"u1,u1,u1,u1,u1", "u1,u1,u1,u1,u1"}, got2)

			for _, sp := range serverSpans(t, s.rec, 2) {
				assert.Contains(t, sp.Attributes(), attrString("user.id", "u1"), sp.Name())
			}
		})
	}
}

func TestEgress(t *testing.T) {
	prop := propagator.New(propagator.WithEgress(propagator.EgressRule{Hosts: []string{"svc-a"}, Keys: []string{"user.id", "tenant.id"}}))
	s := newStack(t, echoValues, stackOpts{prop: prop})
	ctx := withBaggage(t, context.Background(), "user.id", "u1", "tenant.id", "t1", "local.secret", "s")
	// A baggage entry copied into the outgoing metadata must not slip past.
	ctx = metadata.AppendToOutgoingContext(ctx, "baggage", "local.secret=forged")
	ctx, span := s.tp.Tracer("test").Start(ctx, "client")
	defer span.End()

	for _, tc := range []struct{ target, baggage string }{
		{"svc-a:50051", "tenant.id=t1,user.id=u1"},
		{"dns:///svc-a:50051", "tenant.id=t1,user.id=u1"},
		{"passthrough:///other:50051", ""},
		{"svc-a.evil:50051", ""},
	} {
		t.Run(tc.target, func(t *testing.T) {
			cc := s.client(t, tc.target)
			s.mu.Lock()
			s.wire = nil
			s.mu.Unlock()
			_, err := callUnary(ctx, cc, "user.id")
			require.NoError(t, err)
			_, err = callStream(ctx, cc, "user.id")
			require.NoError(t, err)
			s.mu.Lock()
			defer s.mu.Unlock()
			require.Len(t, s.wire, 2)
			for _, md := range s.wire {
				require.Len(t, md.Get("traceparent"), 1)
				assert.Contains(t, md.Get("traceparent")[0], span.SpanContext().TraceID().String())
				if tc.baggage == "" {
					assert.Empty(t, md.Get("baggage"))
				} else {
					assert.Equal(t, []string{tc.baggage}, md.Get("baggage"))
				}
			}
		})
	}
}

func TestPublicEndpoint(t *testing.T) {
	for _, first := range []bool{false, true} {
		t.Run(fmt.Sprintf("otelgrpcFirst=%v", first), func(t *testing.T) {
			prop := propagator.New(propagator.WithPublicAllow("request.id"))
			isPublic := func(context.Context, *stats.RPCTagInfo) bool { return true }
			s := newStack(t, echoValues, stackOpts{prop: prop, otelgrpcFirst: first, isPublic: isPublic,
				server: []otelctxgrpc.Option{otelctxgrpc.WithPublicEndpointFn(isPublic)}})
			cc := dial(t, "edge:443", s.addr) // a client of the internet: no otelctx
			ctx := metadata.AppendToOutgoingContext(context.Background(),
				"baggage", "user.id=admin,request.id=r1", "baggage", "role=root")

			got, err := callUnary(ctx, cc, "user.id")
			require.NoError(t, err)
			assert.Equal(t, ",,,,", got, "forged baggage dropped")
			got, err = callUnary(ctx, cc, "request.id")
			require.NoError(t, err)
			assert.Equal(t, "r1,r1,r1,r1,r1", got, "allowlisted key kept")
			streamed, err := callStream(ctx, cc, "role")
			require.NoError(t, err)
			assert.Equal(t, []string{",,,,", ",,,,"}, streamed)
			if !first {
				for _, sp := range serverSpans(t, s.rec, 3) {
					for _, kv := range sp.Attributes() {
						assert.NotEqual(t, "user.id", string(kv.Key), "forged value on %s", sp.Name())
					}
				}
			}
		})
	}
}

func TestPublicEndpointFnNilIgnored(t *testing.T) {
	s := newStack(t, echoValues, stackOpts{prop: propagator.New(), otelgrpcFirst: true,
		server: []otelctxgrpc.Option{otelctxgrpc.WithPublicEndpointFn(nil)}})
	cc := dial(t, "svc:1", s.addr)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "baggage", "user.id=u1")
	got, err := callUnary(ctx, cc, "user.id")
	require.NoError(t, err)
	assert.Equal(t, "u1,u1,u1,u1,u1", got, "a nil fn marks no RPC public")
}

func TestLegacyAndMultiValue(t *testing.T) {
	prop := propagator.New(propagator.WithLegacyHeader("x-user-id", "legacy.user"))
	s := newStack(t, echoValues, stackOpts{prop: prop, otelgrpcFirst: true})
	cc := dial(t, "svc:1", s.addr)
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"x-user-id", "L1", "baggage", "a=1", "baggage", "b=2")
	for key, want := range map[string]string{"legacy.user": "L1", "a": "1", "b": "2"} {
		got, err := callUnary(ctx, cc, key)
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat(want+",", 4)+want, got, key)
	}
}

// TestConcurrentRPCs: 1,000 RPCs at once, unary and streams mixed, each
// with its own value, see only their own.
func TestConcurrentRPCs(t *testing.T) {
	prop := propagator.New(propagator.WithEgress(propagator.EgressRule{Hosts: []string{"*"}, Keys: []string{"user.id"}}))
	s := newStack(t, echoValues, stackOpts{prop: prop})
	cc := s.client(t, "svc:1")
	var mismatches, failures atomic.Int64
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprintf("u%d", i)
			want := strings.Repeat(user+",", 4) + user
			ctx := withBaggage(t, context.Background(), "user.id", user)
			var got []string
			var err error
			if i%2 == 0 {
				var g string
				g, err = callUnary(ctx, cc, "user.id")
				got = []string{g}
			} else {
				got, err = callStream(ctx, cc, "user.id")
			}
			if err != nil {
				failures.Add(1)
				return
			}
			for _, g := range got {
				if g != want {
					mismatches.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, failures.Load())
	assert.Zero(t, mismatches.Load())
}

// TestBadInput: hostile metadata never fails an RPC; it is dropped and
// counted.
func TestBadInput(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	prop := propagator.New(propagator.WithMeterProvider(mp))
	s := newStack(t, echoValues, stackOpts{prop: prop})
	cc := dial(t, "svc:1", s.addr)

	many := make([]string, 0, 2*500)
	for i := range 500 {
		many = append(many, "baggage", fmt.Sprintf("k%d=v", i))
	}
	for name, kv := range map[string][]string{
		"oversized":   {"baggage", "big=" + strings.Repeat("x", 9000)},
		"malformed":   {"baggage", "=,==;;,a b=c,ok=1", "traceparent", "00-zz-yy-01"},
		"two parents": {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203332-01"},
		"binary":      {"baggage-bin", "\x00\xff", "traceparent-bin", "\x00\x01"},
		"many":        many,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(context.Background(), kv...)
			got, err := callUnary(ctx, cc, "ok")
			require.NoError(t, err)
			streamed, err := callStream(ctx, cc, "ok")
			require.NoError(t, err)
			want := ",,,,"
			if name == "malformed" {
				want = "1,1,1,1,1" // the one good member survives
			}
			assert.Equal(t, want, got)
			assert.Equal(t, []string{want, want}, streamed)
		})
	}
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	counted := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					r, _ := dp.Attributes.Value("reason")
					counted[m.Name+"/"+r.AsString()] += dp.Value
				}
			}
		}
	}
	assert.NotEmpty(t, counted)
	t.Log(counted)
	var errs, dropped int64
	for k, v := range counted {
		if strings.HasPrefix(k, "otelctx.propagation.errors/") {
			errs += v
		} else if strings.HasPrefix(k, "otelctx.baggage.dropped/") {
			dropped += v
		}
	}
	assert.Positive(t, errs, "malformed input counted")
	assert.Positive(t, dropped, "members over the limits counted")
}

// TestExtractedOnce: in the recommended order otelgrpc's handler extracts,
// with the same propagator, what ServerOptions extracted already; the
// propagator sees the same fields and hands back its result, so each RPC's
// dropped members are counted once.
func TestExtractedOnce(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	prop := propagator.New(propagator.WithMeterProvider(mp), propagator.WithIngressDeny("secret"))
	s := newStack(t, echoValues, stackOpts{prop: prop})
	cc := dial(t, "svc:1", s.addr)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "baggage", "ok=1,secret=2")
	for range 3 {
		got, err := callUnary(ctx, cc, "ok")
		require.NoError(t, err)
		assert.Equal(t, "1,1,1,1,1", got)
	}
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	var denied int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "otelctx.baggage.dropped" {
				for _, dp := range sum.DataPoints {
					if r, _ := dp.Attributes.Value("reason"); r.AsString() == "ingress.denied" {
						denied += dp.Value
					}
				}
			}
		}
	}
	assert.Equal(t, int64(3), denied, "one denied member per RPC")
}

// TestServerResource: each RPC, unary or streaming, runs in a resource of
// its own of type "grpc.request" whose value is its full method name, for
// RPCs of different methods in turn.
func TestServerResource(t *testing.T) {
	type resource struct {
		typ, method string
		id          uint64
	}
	var (
		mu   sync.Mutex
		seen []resource
	)
	h := asynctrack.NewHook(asynctrack.HookFuncs{Init: func(_ context.Context, id uint64, typ string, _ uint64, value any) {
		if typ != otelctxgrpc.TypeGRPCRequest {
			return
		}
		method, _ := value.(string)
		mu.Lock()
		seen = append(seen, resource{typ, method, id})
		mu.Unlock()
	}}).Enable()
	defer h.Disable()
	s := newStack(t, echoValues, stackOpts{prop: propagator.New()})
	cc := s.client(t, "svc:1")
	for range 2 {
		_, err := callUnary(context.Background(), cc, "user.id")
		require.NoError(t, err)
		_, err = callStream(context.Background(), cc, "user.id")
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 4)
	ids := map[uint64]bool{}
	for i, r := range seen {
		want := unaryMethod
		if i%2 == 1 {
			want = streamMethod
		}
		assert.Equal(t, resource{otelctxgrpc.TypeGRPCRequest, want, r.id}, r, "RPC %d", i)
		ids[r.id] = true
	}
	assert.Len(t, ids, 4, "a resource per RPC")
}
