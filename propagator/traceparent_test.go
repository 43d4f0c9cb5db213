// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const (
	suiteTraceID = "12345678901234567890123456789012"
	suiteSpanID  = "1234567890123456"
)

// Cases of the W3C Trace Context test suite (test/test.py) and of the
// specification's versioning rules. traceID is the trace ID extracted, or ""
// when the traceparent must be ignored.
var traceparentCases = []struct {
	name    string
	headers []string
	traceID string
	flags   trace.TraceFlags
}{
	{"valid sampled", []string{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, "4bf92f3577b34da6a3ce929d0e0e4736", 1},
	{"valid not sampled", []string{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}, "4bf92f3577b34da6a3ce929d0e0e4736", 0},
	{"random flag", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-02"}, suiteTraceID, trace.FlagsRandom},
	{"sampled and random", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-03"}, suiteTraceID, 3},
	{"reserved flags ignored", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-09"}, suiteTraceID, trace.FlagsSampled},
	{"all flags", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-ff"}, suiteTraceID, 3},
	{"missing", nil, "", 0},
	{"empty", []string{"traceparent", ""}, "", 0},
	{"duplicated", []string{
		"traceparent", "00-12345678901234567890123456789011-1234567890123456-01",
		"traceparent", "00-12345678901234567890123456789012-1234567890123456-01",
	}, "", 0},
	{"duplicated identical", []string{
		"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-01",
		"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-01",
	}, "", 0},
	{"combined in one field", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-01, 00-" + suiteTraceID + "-" + suiteSpanID + "-01"}, "", 0},
	{"empty list elements ignored", []string{"traceparent", " , 00-" + suiteTraceID + "-" + suiteSpanID + "-01,", "traceparent", ""}, suiteTraceID, 1},
	{"header name trace-parent", []string{"trace-parent", "00-" + suiteTraceID + "-" + suiteSpanID + "-01"}, "", 0},
	{"header name trace.parent", []string{"trace.parent", "00-" + suiteTraceID + "-" + suiteSpanID + "-01"}, "", 0},
	{"header name TraceParent", []string{"TraceParent", "00-" + suiteTraceID + "-" + suiteSpanID + "-01"}, suiteTraceID, 1},
	{"header name TrAcEpArEnT", []string{"TrAcEpArEnT", "00-" + suiteTraceID + "-" + suiteSpanID + "-01"}, suiteTraceID, 1},
	{"header name TRACEPARENT", []string{"TRACEPARENT", "00-" + suiteTraceID + "-" + suiteSpanID + "-01"}, suiteTraceID, 1},
	{"version 00 trailing dot", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-01."}, "", 0},
	{"version 00 extra field", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-01-what-the-future-will-be-like"}, "", 0},
	{"version 00 trailing dash", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-01-"}, "", 0},
	{"version cc", []string{"traceparent", "cc-" + suiteTraceID + "-" + suiteSpanID + "-01"}, suiteTraceID, 1},
	{"version cc extra field", []string{"traceparent", "cc-" + suiteTraceID + "-" + suiteSpanID + "-01-what-the-future-will-be-like"}, suiteTraceID, 1},
	{"version cc bad separator", []string{"traceparent", "cc-" + suiteTraceID + "-" + suiteSpanID + "-01.what-the-future-will-be-like"}, "", 0},
	{"version ff", []string{"traceparent", "ff-" + suiteTraceID + "-" + suiteSpanID + "-01"}, "", 0},
	{"version illegal .0", []string{"traceparent", ".0-" + suiteTraceID + "-" + suiteSpanID + "-01"}, "", 0},
	{"version illegal 0.", []string{"traceparent", "0.-" + suiteTraceID + "-" + suiteSpanID + "-01"}, "", 0},
	{"version upper case", []string{"traceparent", "0A-" + suiteTraceID + "-" + suiteSpanID + "-01"}, "", 0},
	{"version too long 000", []string{"traceparent", "000-" + suiteTraceID + "-" + suiteSpanID + "-01"}, "", 0},
	{"version too long 0000", []string{"traceparent", "0000-" + suiteTraceID + "-" + suiteSpanID + "-01"}, "", 0},
	{"version too short", []string{"traceparent", "0-" + suiteTraceID + "-" + suiteSpanID + "-01"}, "", 0},
	{"trace id all zero", []string{"traceparent", "00-00000000000000000000000000000000-" + suiteSpanID + "-01"}, "", 0},
	{"trace id illegal first", []string{"traceparent", "00-.2345678901234567890123456789012-" + suiteSpanID + "-01"}, "", 0},
	{"trace id illegal last", []string{"traceparent", "00-1234567890123456789012345678901.-" + suiteSpanID + "-01"}, "", 0},
	{"trace id upper case", []string{"traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + suiteSpanID + "-01"}, "", 0},
	{"trace id too long", []string{"traceparent", "00-123456789012345678901234567890123-" + suiteSpanID + "-01"}, "", 0},
	{"trace id too short", []string{"traceparent", "00-1234567890123456789012345678901-" + suiteSpanID + "-01"}, "", 0},
	{"parent id all zero", []string{"traceparent", "00-" + suiteTraceID + "-0000000000000000-01"}, "", 0},
	{"parent id illegal first", []string{"traceparent", "00-" + suiteTraceID + "-.234567890123456-01"}, "", 0},
	{"parent id illegal last", []string{"traceparent", "00-" + suiteTraceID + "-123456789012345.-01"}, "", 0},
	{"parent id too long", []string{"traceparent", "00-" + suiteTraceID + "-12345678901234567-01"}, "", 0},
	{"parent id too short", []string{"traceparent", "00-" + suiteTraceID + "-123456789012345-01"}, "", 0},
	{"flags illegal .0", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-.0"}, "", 0},
	{"flags illegal 0.", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-0."}, "", 0},
	{"flags too long", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-001"}, "", 0},
	{"flags too short", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-1"}, "", 0},
	{"ows leading space", []string{"traceparent", " 00-" + suiteTraceID + "-" + suiteSpanID + "-01"}, suiteTraceID, 1},
	{"ows leading tab", []string{"traceparent", "\t00-" + suiteTraceID + "-" + suiteSpanID + "-01"}, suiteTraceID, 1},
	{"ows trailing space", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-01 "}, suiteTraceID, 1},
	{"ows trailing tab", []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "-01\t"}, suiteTraceID, 1},
	{"ows both", []string{"traceparent", "\t 00-" + suiteTraceID + "-" + suiteSpanID + "-01 \t"}, suiteTraceID, 1},
	{"wrong separators", []string{"traceparent", "00_" + suiteTraceID + "_" + suiteSpanID + "_01"}, "", 0},
}

func TestExtractTraceparent(t *testing.T) {
	p := New()
	for _, tc := range traceparentCases {
		t.Run(tc.name, func(t *testing.T) {
			sc := trace.SpanContextFromContext(extract(p, tc.headers...))
			if tc.traceID == "" {
				assert.False(t, sc.IsValid(), "extracted %v", sc)
				return
			}
			require.True(t, sc.IsValid())
			assert.Equal(t, tc.traceID, sc.TraceID().String())
			assert.True(t, sc.IsRemote())
			assert.Equal(t, tc.flags, sc.TraceFlags())
		})
	}
}

func TestExtractTraceparentKeepsContextWhenInvalid(t *testing.T) {
	p := New()
	parent := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2},
	}))
	ctx := p.Extract(parent, propagation.HeaderCarrier(headers("traceparent", "ff-"+suiteTraceID+"-"+suiteSpanID+"-01")))
	assert.Equal(t, trace.SpanContextFromContext(parent), trace.SpanContextFromContext(ctx))
}

func TestInjectTraceparent(t *testing.T) {
	p := New()
	for _, tc := range []struct {
		name  string
		flags trace.TraceFlags
		want  string
	}{
		{"not sampled", 0, "00-" + suiteTraceID + "-" + suiteSpanID + "-00"},
		{"sampled", trace.FlagsSampled, "00-" + suiteTraceID + "-" + suiteSpanID + "-01"},
		{"random", trace.FlagsRandom, "00-" + suiteTraceID + "-" + suiteSpanID + "-02"},
		{"reserved bits cleared", 0xff, "00-" + suiteTraceID + "-" + suiteSpanID + "-03"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tid, _ := trace.TraceIDFromHex(suiteTraceID)
			sid, _ := trace.SpanIDFromHex(suiteSpanID)
			ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: tid, SpanID: sid, TraceFlags: tc.flags,
			}))
			h := inject(p, ctx)
			assert.Equal(t, []string{tc.want}, h.Values("traceparent"))
			assert.Empty(t, h.Values("tracestate"))
		})
	}
}

func TestInjectVersionDowngrade(t *testing.T) {
	// A higher version is sent on as version 00.
	p := New()
	ctx := extract(p, "traceparent", "cc-"+suiteTraceID+"-"+suiteSpanID+"-03-what-the-future-will-be-like")
	assert.Equal(t, "00-"+suiteTraceID+"-"+suiteSpanID+"-03", inject(p, ctx).Get("traceparent"))
}

func TestInjectNothingWithoutSpanContext(t *testing.T) {
	h := inject(New(allEgress), context.Background())
	assert.Empty(t, h)
}

func TestMapCarrier(t *testing.T) {
	// Carriers that are neither http.Header nor ValuesGetter use Get and Set
	// with lower-case names.
	p := New(allEgress)
	in := propagation.MapCarrier{
		"traceparent": "00-" + suiteTraceID + "-" + suiteSpanID + "-01",
		"tracestate":  "congo=t61rcWkgMzE",
		"baggage":     "k=v",
	}
	ctx := p.Extract(context.Background(), in)
	out := propagation.MapCarrier{}
	p.Inject(ctx, out)
	assert.Equal(t, in, out)
}

func TestInjectReplacesStaleTracestate(t *testing.T) {
	p := New()
	h := headers("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate", "old=1")
	ctx := extract(p, "traceparent", suiteTraceparent)
	p.Inject(ctx, propagation.HeaderCarrier(h))
	assert.Equal(t, []string{suiteTraceparent}, h.Values("traceparent"))
	assert.Empty(t, h.Values("tracestate"))
}
