// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Allocation bound for one Extract of untrusted input: a fixed part for the
// contexts, the TraceState and the baggage map, which the limits bound, and
// a small multiple of the input, for values that must be decoded or copied.
const (
	fuzzAllocFixed  = 64 << 10
	fuzzAllocFactor = 8
)

// FuzzExtract feeds arbitrary traceparent, tracestate and baggage values
// (several field lines each, split at '\n') to Extract. Extract must not
// panic or allocate beyond the bound, and whatever it extracts must inject as
// valid headers that extract to the same again.
func FuzzExtract(f *testing.F) {
	for _, tc := range traceparentCases {
		f.Add(strings.Join(values(tc.headers, "traceparent"), "\n"), "", "")
	}
	for _, tc := range tracestateCases {
		f.Add(suiteTraceparent, strings.Join(values(tc.headers, "tracestate"), "\n"), "")
	}
	for _, tc := range baggageCases {
		f.Add("", "", strings.Join(values(tc.headers, "baggage"), "\n"))
	}
	f.Add(benchTraceparent, benchTracestate, benchBaggage)

	p := New(allEgress, WithLegacyHeader("x-request-id", "request.id"))
	f.Fuzz(func(t *testing.T, traceparent, tracestate, bag string) {
		h := http.Header{}
		for name, v := range map[string]string{"traceparent": traceparent, "tracestate": tracestate, "baggage": bag} {
			if v != "" {
				h[http.CanonicalHeaderKey(name)] = strings.Split(v, "\n")
			}
		}
		if bag != "" {
			h.Set("x-request-id", bag)
		}
		carrier := propagation.HeaderCarrier(h)

		ctx := p.Extract(context.Background(), carrier)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p.Extract(context.Background(), carrier)
		runtime.ReadMemStats(&after)
		in := len(traceparent) + len(tracestate) + 2*len(bag)
		if n := after.TotalAlloc - before.TotalAlloc; n > uint64(fuzzAllocFixed+fuzzAllocFactor*in) {
			t.Errorf("Extract of %d bytes allocated %d bytes", in, n)
		}

		out := http.Header{}
		p.Inject(ctx, propagation.HeaderCarrier(out))
		checkInjected(t, ctx, out)

		// Extracting what was injected gives the same, so injecting it again
		// gives the same headers.
		ctx2 := p.Extract(context.Background(), propagation.HeaderCarrier(out))
		out2 := http.Header{}
		p.Inject(ctx2, propagation.HeaderCarrier(out2))
		for _, name := range []string{"Traceparent", "Tracestate", "Baggage"} {
			if a, b := strings.Join(out[name], "|"), strings.Join(out2[name], "|"); a != b {
				t.Errorf("%s: injected %q, then %q", name, a, b)
			}
		}
		if a, b := trace.SpanContextFromContext(ctx), trace.SpanContextFromContext(ctx2); a.TraceID() != b.TraceID() ||
			a.SpanID() != b.SpanID() || a.TraceFlags() != b.TraceFlags() || a.TraceState().String() != b.TraceState().String() {
			t.Errorf("span context %v extracted again as %v", a, b)
		}
	})
}

func values(kv []string, name string) []string {
	var vs []string
	for i := 0; i+1 < len(kv); i += 2 {
		if strings.EqualFold(kv[i], name) {
			vs = append(vs, kv[i+1])
		}
	}
	return vs
}

// checkInjected validates injected headers against the specifications and
// against what ctx holds.
func checkInjected(t *testing.T, ctx context.Context, h http.Header) {
	t.Helper()
	sc := trace.SpanContextFromContext(ctx)
	tp := h["Traceparent"]
	switch {
	case !sc.IsValid() && len(tp) > 0:
		t.Errorf("traceparent %q without a span context", tp)
	case sc.IsValid():
		if len(tp) != 1 {
			t.Fatalf("traceparent %q", tp)
		}
		scc, ok := parseTraceparent(tp[0])
		if !ok || len(tp[0]) != traceparentLen || tp[0][:3] != "00-" || strings.ToLower(tp[0]) != tp[0] {
			t.Errorf("invalid traceparent %q", tp[0])
		}
		if scc.TraceID != sc.TraceID() || scc.SpanID != sc.SpanID() || scc.TraceFlags != sc.TraceFlags() {
			t.Errorf("traceparent %q for %v", tp[0], sc)
		}
	}
	if ts := h["Tracestate"]; len(ts) > 0 {
		if len(ts) != 1 {
			t.Errorf("tracestate %q", ts)
		}
		var buf [maxTracestateMembers]tsMember
		ms, canonical, dup, why := parseTracestate(ts, buf[:])
		if why != 0 || !canonical || dup || len(ms) == 0 {
			t.Errorf("invalid tracestate %q: %v", ts, why)
		}
	}
	if bs := h["Baggage"]; len(bs) > 0 {
		if len(bs) != 1 || bs[0] == "" {
			t.Fatalf("baggage %q", bs)
		}
		parsed, err := baggage.Parse(bs[0])
		if err != nil {
			t.Errorf("baggage.Parse(%q): %v", bs[0], err)
		}
		want := baggage.FromContext(ctx)
		if parsed.Len() != want.Len() {
			t.Errorf("baggage %q has %d members, want %d", bs[0], parsed.Len(), want.Len())
		}
		for _, m := range want.Members() {
			got := parsed.Member(m.Key())
			if got.Value() != m.Value() || len(got.Properties()) != len(m.Properties()) {
				t.Errorf("baggage %q: member %q is %q, want %q", bs[0], m.Key(), got, m)
			}
		}
	}
}
