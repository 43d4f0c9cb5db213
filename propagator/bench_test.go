// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Benchmark input: a traceparent, a 3-member tracestate and a 5-member,
// 220-byte baggage with one percent-encoded value and one property.
const (
	benchTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	benchTracestate  = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,vendor=abc123"
	benchBaggage     = "tenant.id=acme-corp-eu-west-1,user.id=3f2504e0-4f89-11d3-9a0c-0305e82c3301," +
		"session.id=7c9e6679-7425-40de-944b-e07fc1f90ae7,region=eu-west-1;source=edge-proxy-07.example.net," +
		"user.name=Jane%20Doe%20Smith%20of%20Acme%20Corp"
)

var benchKeys = []string{"tenant.id", "user.id", "session.id", "region", "user.name"}

func benchHeader() http.Header {
	h := http.Header{}
	h.Set(traceparentHeader, benchTraceparent)
	h.Set(tracestateHeader, benchTracestate)
	h.Set(baggageHeader, benchBaggage)
	return h
}

func benchPropagators() []struct {
	name string
	p    propagation.TextMapPropagator
} {
	return []struct {
		name string
		p    propagation.TextMapPropagator
	}{
		{"stock", propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})},
		{"otelctx", New(
			WithIngressAllow(benchKeys...),
			WithEgress(EgressRule{Hosts: []string{"*"}, Keys: benchKeys}),
		)},
	}
}

// cpuMeter reports, when stopped, the CPU time the whole process (the
// garbage collector included) spent per iteration, as cpu-ns/op: on a
// machine shared with other work it varies less than the wall time ns/op.
type cpuMeter struct {
	b       *testing.B
	start   time.Duration
	ok      bool
	paused  time.Duration // CPU time between pause and resume, left out
	pauseAt time.Duration
}

// pause stops the clock and leaves the CPU time until resume out.
func (m *cpuMeter) pause() {
	m.b.StopTimer()
	m.pauseAt, _ = processCPU()
}

func (m *cpuMeter) resume() {
	now, _ := processCPU()
	m.paused += now - m.pauseAt
	m.b.StartTimer()
}

func meterCPU(b *testing.B) *cpuMeter {
	b.ReportAllocs()
	m := &cpuMeter{b: b}
	m.start, m.ok = processCPU()
	return m
}

func (m *cpuMeter) stop() {
	if end, ok := processCPU(); ok && m.ok && m.b.N > 0 {
		m.b.ReportMetric(float64((end-m.start-m.paused).Nanoseconds())/float64(m.b.N), "cpu-ns/op")
	}
}

func BenchmarkExtract(b *testing.B) {
	if len(benchBaggage) < 210 || len(benchBaggage) > 230 {
		b.Fatalf("baggage is %d bytes, want about 220", len(benchBaggage))
	}
	carrier := propagation.HeaderCarrier(benchHeader())
	for _, bp := range benchPropagators() {
		b.Run(bp.name, func(b *testing.B) {
			defer meterCPU(b).stop()
			ctx := context.Background()
			for b.Loop() {
				_ = bp.p.Extract(ctx, carrier)
			}
		})
	}
}

// BenchmarkInject injects one request's trace context and baggage again and
// again, as a service does on each of a request's outbound calls. Every row
// writes the same three header values:
//
//   - stock: the stock propagators' Inject;
//   - otelctx: Inject under a "*" rule granting every key: Inject writes
//     everything, as stock does;
//   - otelctx_host: the rule grants the keys to api.internal only, so the
//     baggage is written where the destination is known: Inject writes the
//     trace context and InjectBaggage the baggage, as otelhttp's transport
//     and NewTransport do on a request (without the copy of the request
//     NewTransport makes);
//   - floor: no header, only the public baggage.Baggage reads any encoder
//     must make (each member, and its properties): what is left for otelctx
//     to save is the difference to it;
//   - floor_write: those reads, the trace context's, and the three header
//     values written with no check, escape or policy (floorWrite): what
//     any propagator that writes the headers from the public API pays.
func BenchmarkInject(b *testing.B) {
	ctxs := func(p propagation.TextMapPropagator) []context.Context {
		return []context.Context{p.Extract(context.Background(), propagation.HeaderCarrier(benchHeader()))}
	}
	benchInject(b, ctxs, false)
}

// benchInject runs BenchmarkInject's rows over the contexts ctxs extracts
// with a propagator, in turn; if fresh, each context is injected once, new
// ones being extracted (off the clock) when all have been.
func benchInject(b *testing.B, ctxs func(propagation.TextMapPropagator) []context.Context, fresh bool) {
	hostOnly := New(WithIngressAllow(benchKeys...), WithEgress(EgressRule{Hosts: []string{"api.internal"}, Keys: benchKeys}))
	rows := append(benchPropagators(), struct {
		name string
		p    propagation.TextMapPropagator
	}{"otelctx_host", hostOnly})
	for _, bp := range rows {
		b.Run(bp.name, func(b *testing.B) {
			carrier := propagation.HeaderCarrier(http.Header{})
			eachContext(b, ctxs, bp.p, fresh, func(ctx context.Context) {
				bp.p.Inject(ctx, carrier)
				if bp.name == "otelctx_host" {
					_ = InjectBaggage(ctx, bp.p, carrier, "api.internal")
				}
			})
			if got := carrier.Get(baggageHeader); len(got) < 200 {
				b.Fatalf("baggage %q, want the 5 members", got)
			}
		})
	}
	b.Run("floor", func(b *testing.B) {
		cs := ctxs(benchPropagators()[0].p)
		defer meterCPU(b).stop()
		i, n := 0, 0
		for b.Loop() {
			bag := baggage.FromContext(cs[i%len(cs)])
			for _, k := range benchKeys {
				m := bag.Member(k)
				n += len(m.Value()) + len(m.Properties())
			}
			i++
		}
		if n == 0 {
			b.Fatal("no baggage")
		}
	})
	b.Run("floor_write", func(b *testing.B) {
		h := http.Header{}
		eachContext(b, ctxs, benchPropagators()[0].p, fresh, func(ctx context.Context) { floorWrite(ctx, h) })
		if got := h.Get(baggageHeader); strings.Count(got, "=") != len(benchKeys) {
			b.Fatalf("baggage %q, want the 5 members", got)
		}
	})
}

// eachContext calls each, on the clock, with the contexts ctxs extracts
// with p, in turn; if fresh, with each context once, new ones being
// extracted when all have been, off the clock, as is the collection of
// the garbage that extracting them leaves.
func eachContext(b *testing.B, ctxs func(propagation.TextMapPropagator) []context.Context, p propagation.TextMapPropagator, fresh bool, each func(context.Context)) {
	cs := ctxs(p)
	runtime.GC()
	m := meterCPU(b)
	defer m.stop()
	i := 0
	for b.Loop() {
		if fresh && i == len(cs) {
			m.pause()
			cs, i = ctxs(p), 0
			runtime.GC()
			m.resume()
		}
		each(cs[i%len(cs)])
		i++
	}
}

// floorWrite writes the three header values of ctx into h with only what
// no encoder can skip: the public reads of the floor row, the trace
// context's reads, and one string and one slice for the three values, set
// under their canonical names. It checks, escapes and withholds nothing.
func floorWrite(ctx context.Context, h http.Header) {
	var stack [768]byte
	sc := trace.SpanContextFromContext(ctx)
	b := appendTraceparent(stack[:0], sc)
	tp := len(b)
	sc.TraceState().Walk(func(k, v string) bool {
		if len(b) > tp {
			b = append(b, ',')
		}
		b = append(append(append(b, k...), '='), v...)
		return true
	})
	ts := len(b)
	bag := baggage.FromContext(ctx)
	for i, k := range benchKeys {
		m := bag.Member(k)
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, k...), '='), m.Value()...)
		for _, p := range m.Properties() {
			b = append(append(b, ';'), p.Key()...)
		}
	}
	all := string(b)
	vs := make([]string, 3)
	vs[0], vs[1], vs[2] = all[:tp], all[tp:ts], all[ts:]
	h[traceparentCanon], h[tracestateCanon], h[baggageCanon] = vs[0:1:1], vs[1:2:2], vs[2:3:3]
}

// distinctInputs is how many different headers the Distinct benchmarks cycle
// through: far more than the caches' slots, so that every call misses.
const distinctInputs = 16 * cacheSlots

// distinctHeaders returns the benchmark headers with user.id and the first
// tracestate value made unique.
func distinctHeaders() []http.Header {
	hs := make([]http.Header, distinctInputs)
	for i := range hs {
		h := benchHeader()
		h.Set(tracestateHeader, strings.Replace(benchTracestate, "rojo=00f0", fmt.Sprintf("rojo=%04x", i), 1))
		h.Set(baggageHeader, strings.Replace(benchBaggage, "user.id=3f25", fmt.Sprintf("user.id=%04x", i), 1))
		hs[i] = h
	}
	return hs
}

// BenchmarkExtractDistinct is BenchmarkExtract with a different baggage and
// tracestate on every call, as when each request carries its own IDs: the
// caches miss every time.
//
// The floor row builds the same values with OpenTelemetry's public API and
// no checks at all: baggage.Parse, trace.ParseTraceState and the two
// contexts. Any propagator that hands OpenTelemetry a baggage.Baggage and
// a trace.TraceState for a header it has not seen pays about that much.
func BenchmarkExtractDistinct(b *testing.B) {
	hs := distinctHeaders()
	for _, bp := range benchPropagators() {
		b.Run(bp.name, func(b *testing.B) {
			defer meterCPU(b).stop()
			ctx := context.Background()
			i := 0
			for b.Loop() {
				_ = bp.p.Extract(ctx, propagation.HeaderCarrier(hs[i%len(hs)]))
				i++
			}
		})
	}
	b.Run("floor", func(b *testing.B) {
		defer meterCPU(b).stop()
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, Remote: true})
		i := 0
		for b.Loop() {
			h := hs[i%len(hs)]
			bag, err1 := baggage.Parse(h[baggageCanon][0])
			ts, err2 := trace.ParseTraceState(h[tracestateCanon][0])
			if err1 != nil || err2 != nil {
				b.Fatal(err1, err2)
			}
			ctx := trace.ContextWithRemoteSpanContext(context.Background(), sc.WithTraceState(ts))
			_ = baggage.ContextWithBaggage(ctx, bag)
			i++
		}
	})
}

// BenchmarkInjectDistinct is BenchmarkInject with a different baggage on
// every call, as when each request carries its own IDs, each injected for
// the first time since it was extracted.
func BenchmarkInjectDistinct(b *testing.B) {
	hs := distinctHeaders()
	benchInject(b, func(p propagation.TextMapPropagator) []context.Context {
		ctxs := make([]context.Context, len(hs))
		for i, h := range hs {
			ctxs[i] = p.Extract(context.Background(), propagation.HeaderCarrier(h))
		}
		return ctxs
	}, true)
}

// hostileBaggage returns a baggage header of about 1 MiB: many small
// members, as an attacker would send to make a service parse them.
func hostileBaggage() string {
	var b strings.Builder
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "key%06d=value%06d,", i, i)
	}
	return strings.TrimSuffix(b.String(), ",")
}

// BenchmarkExtractHostile extracts a 1 MiB baggage header, with the default
// limits (W3C's: 64 members, 8192 bytes). Stock rejects it whole for its
// size; otelctx keeps what fits and reads no more than four times that.
func BenchmarkExtractHostile(b *testing.B) {
	h := benchHeader()
	h.Set(baggageHeader, hostileBaggage())
	for _, bp := range []struct {
		name string
		p    propagation.TextMapPropagator
	}{
		{"stock", propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})},
		{"otelctx", New()},
	} {
		b.Run(bp.name, func(b *testing.B) {
			carrier := propagation.HeaderCarrier(h)
			defer meterCPU(b).stop()
			for b.Loop() {
				bp.p.Extract(context.Background(), carrier)
			}
		})
	}
}

// BenchmarkDrops is BenchmarkExtract and BenchmarkInject with a policy that
// drops members both ways: ingress accepts two of the five keys, egress
// grants one of them to the destination.
func BenchmarkDrops(b *testing.B) {
	p := New(WithIngressAllow("tenant.id", "user.id"),
		WithEgress(EgressRule{Hosts: []string{"*.internal"}, Keys: []string{"user.id"}}))
	benchDrops(b, p)
}

func benchDrops(b *testing.B, p propagation.TextMapPropagator) {
	carrier := propagation.HeaderCarrier(benchHeader())
	b.Run("extract", func(b *testing.B) {
		defer meterCPU(b).stop()
		ctx := context.Background()
		for b.Loop() {
			_ = p.Extract(ctx, carrier)
		}
	})
	b.Run("inject", func(b *testing.B) {
		ctx := New(allEgress).Extract(context.Background(), carrier)
		out := propagation.MapCarrier{}
		defer meterCPU(b).stop()
		for b.Loop() {
			_ = InjectBaggage(ctx, p, out, "api.internal")
		}
	})
}
