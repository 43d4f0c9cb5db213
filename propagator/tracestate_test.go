// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const suiteTraceparent = "00-" + suiteTraceID + "-" + suiteSpanID + "-00"

func barMembers(from, to int) string {
	var parts []string
	for i := from; i <= to; i++ {
		parts = append(parts, fmt.Sprintf("bar%02d=%02d", i, i))
	}
	return strings.Join(parts, ",")
}

const (
	keyWithoutVendor = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
	keyWithVendor    = keyWithoutVendor + "@a-z0-9_-*/"
)

// allValueChars is every character a tracestate value may hold, as in the
// W3C test suite: 0x20-0x2B, 0x2D-0x3C, 0x3E-0x7E.
var allValueChars = func() string {
	var b strings.Builder
	for c := byte(0x20); c <= 0x7e; c++ {
		if c != ',' && c != '=' {
			b.WriteByte(c)
		}
	}
	return b.String()
}()

// Cases of the W3C Trace Context test suite for tracestate, brought up to the
// current text of the specification: duplicate keys keep the list usable,
// and keys follow the current grammar. want is the tracestate Inject sends
// for the extracted span context; "" means none.
var tracestateCases = []struct {
	name    string
	headers []string
	want    string
	// held is what trace.TraceState holds, when it differs from want.
	held *string
}{
	{"inherited", []string{"tracestate", "foo=1,bar=2"}, "foo=1,bar=2", nil},
	{"header name trace-state", []string{"trace-state", "foo=1"}, "", nil},
	{"header name trace.state", []string{"trace.state", "foo=1"}, "", nil},
	{"header name TraceState", []string{"TraceState", "foo=1"}, "foo=1", nil},
	{"header name TrAcEsTaTe", []string{"TrAcEsTaTe", "foo=1"}, "foo=1", nil},
	{"header name TRACESTATE", []string{"TRACESTATE", "foo=1"}, "foo=1", nil},
	{"empty header", []string{"tracestate", ""}, "", nil},
	{"empty header after", []string{"tracestate", "foo=1", "tracestate", ""}, "foo=1", nil},
	{"empty header before", []string{"tracestate", "", "tracestate", "foo=1"}, "foo=1", nil},
	{"empty members", []string{"tracestate", ",foo=1,, ,bar=2,"}, "foo=1,bar=2", nil},
	{"multiple headers keep order", []string{"tracestate", "foo=1,bar=2", "tracestate", "rojo=1,congo=2", "tracestate", "baz=3"}, "foo=1,bar=2,rojo=1,congo=2,baz=3", nil},
	{"duplicate keys same value", []string{"tracestate", "foo=1,foo=1"}, "foo=1", nil},
	{"duplicate keys leftmost wins", []string{"tracestate", "foo=1,foo=2"}, "foo=1", nil},
	{"duplicate keys across headers", []string{"tracestate", "foo=1", "tracestate", "foo=2"}, "foo=1", nil},
	{"duplicate keys keep the rest", []string{"tracestate", "foo=1,bar=2,foo=3,baz=4"}, "foo=1,bar=2,baz=4", nil},
	{"all allowed characters", []string{"tracestate", keyWithoutVendor + "=" + allValueChars}, keyWithoutVendor + "=" + allValueChars, nil},
	{"all allowed characters with vendor", []string{"tracestate", keyWithVendor + "=" + allValueChars}, keyWithVendor + "=" + allValueChars, nil},
	{"ows around members", []string{"tracestate", "foo=1 \t , \t bar=2, \t baz=3"}, "foo=1,bar=2,baz=3", nil},
	{"ows tabs", []string{"tracestate", "foo=1\t \t,\t \tbar=2,\t \tbaz=3"}, "foo=1,bar=2,baz=3", nil},
	{"ows leading space", []string{"tracestate", " foo=1"}, "foo=1", nil},
	{"ows leading tab", []string{"tracestate", "\tfoo=1"}, "foo=1", nil},
	{"ows trailing space", []string{"tracestate", "foo=1 "}, "foo=1", nil},
	{"ows trailing tab", []string{"tracestate", "foo=1\t"}, "foo=1", nil},
	{"ows both", []string{"tracestate", "\t foo=1 \t"}, "foo=1", nil},
	{"value leading spaces kept", []string{"tracestate", "foo=  1"}, "foo=  1", nil},
	{"key with space", []string{"tracestate", "foo =1"}, "", nil},
	{"key upper case", []string{"tracestate", "FOO=1"}, "", nil},
	{"key with dot", []string{"tracestate", "foo.bar=1"}, "", nil},
	{"invalid member discards all headers", []string{"tracestate", "foo=1", "tracestate", "FOO=1"}, "", nil},
	{"key ending in @", []string{"tracestate", "foo@=1,bar=2"}, "foo@=1,bar=2", ptr("bar=2")},
	{"key starting with @", []string{"tracestate", "@foo=1,bar=2"}, "", nil},
	{"key with @@", []string{"tracestate", "foo@@bar=1,bar=2"}, "foo@@bar=1,bar=2", ptr("bar=2")},
	{"key with two @", []string{"tracestate", "foo@bar@baz=1,bar=2"}, "foo@bar@baz=1,bar=2", ptr("bar=2")},
	{"key starting with a digit", []string{"tracestate", "1vendor=x,bar=2"}, "1vendor=x,bar=2", ptr("bar=2")},
	{"tenant key starting with a digit", []string{"tracestate", "1tenant@vendor=x"}, "1tenant@vendor=x", nil},
	{"32 members", []string{"tracestate", barMembers(1, 10), "tracestate", barMembers(11, 20), "tracestate", barMembers(21, 30), "tracestate", barMembers(31, 32)}, barMembers(1, 32), nil},
	{"33 members", []string{"tracestate", barMembers(1, 10), "tracestate", barMembers(11, 20), "tracestate", barMembers(21, 30), "tracestate", barMembers(31, 33)}, "", nil},
	{"33 members counting a duplicate", []string{"tracestate", barMembers(1, 32) + ",bar01=x"}, barMembers(1, 32), nil},
	{"key of 256", []string{"tracestate", "foo=1", "tracestate", strings.Repeat("z", 256) + "=1"}, "foo=1," + strings.Repeat("z", 256) + "=1", nil},
	{"key of 257", []string{"tracestate", "foo=1", "tracestate", strings.Repeat("z", 257) + "=1"}, "", nil},
	{"tenant of 241 and vendor of 14", []string{"tracestate", "foo=1", "tracestate", strings.Repeat("t", 241) + "@" + strings.Repeat("v", 14) + "=1"}, "foo=1," + strings.Repeat("t", 241) + "@" + strings.Repeat("v", 14) + "=1", nil},
	{"tenant of 242", []string{"tracestate", "foo=1", "tracestate", strings.Repeat("t", 242) + "@v=1"}, "foo=1," + strings.Repeat("t", 242) + "@v=1", ptr("foo=1")},
	{"vendor of 15", []string{"tracestate", "foo=1", "tracestate", "t@" + strings.Repeat("v", 15) + "=1"}, "foo=1,t@" + strings.Repeat("v", 15) + "=1", ptr("foo=1")},
	{"value with =", []string{"tracestate", "foo=bar=baz"}, "", nil},
	{"value empty", []string{"tracestate", "foo=,bar=3"}, "", nil},
	{"value of 256", []string{"tracestate", "foo=" + strings.Repeat("v", 256)}, "foo=" + strings.Repeat("v", 256), nil},
	{"value of 257", []string{"tracestate", "foo=" + strings.Repeat("v", 257)}, "", nil},
	{"value with control character", []string{"tracestate", "foo=a\x01b"}, "", nil},
	{"member without =", []string{"tracestate", "foo"}, "", nil},
}

func ptr(s string) *string { return &s }

func TestExtractTracestate(t *testing.T) {
	p := New()
	for _, tc := range tracestateCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := extract(p, append([]string{"traceparent", suiteTraceparent}, tc.headers...)...)
			sc := trace.SpanContextFromContext(ctx)
			require.True(t, sc.IsValid(), "tracestate must not affect traceparent")
			assert.Equal(t, suiteTraceID, sc.TraceID().String())

			h := inject(p, ctx)
			if tc.want == "" {
				assert.Empty(t, h.Values("tracestate"))
			} else {
				assert.Equal(t, []string{tc.want}, h.Values("tracestate"))
			}
			held := tc.want
			if tc.held != nil {
				held = *tc.held
			}
			assert.Equal(t, held, sc.TraceState().String())
		})
	}
}

func TestTracestateWithoutTraceparentIgnored(t *testing.T) {
	p := New()
	ctx := extract(p, "tracestate", "foo=1,bar@=2")
	assert.False(t, trace.SpanContextFromContext(ctx).IsValid())
	assert.Empty(t, inject(p, ctx))
}

// editSampler samples everything and edits the tracestate of new spans.
type editSampler func(trace.TraceState) trace.TraceState

func (s editSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	return sdktrace.SamplingResult{
		Decision:   sdktrace.RecordAndSample,
		Tracestate: s(trace.SpanContextFromContext(p.ParentContext).TraceState()),
	}
}

func (editSampler) Description() string { return "edit" }

func TestTracestateCarriedThroughChildSpans(t *testing.T) {
	// rojo and congo fit in trace.TraceState; the others only fit the current
	// key grammar and must reach the next hop unchanged, in place.
	const in = "foo@bar@baz=1,rojo=2,1vendor=3,congo=4,x@=5"
	p := New()
	insert := func(k, v string) editSampler {
		return func(ts trace.TraceState) trace.TraceState {
			ts, err := ts.Insert(k, v)
			require.NoError(t, err)
			return ts
		}
	}
	for _, tc := range []struct {
		name    string
		sampler sdktrace.Sampler
		opts    []trace.SpanStartOption
		want    string
	}{
		{"unchanged", sdktrace.AlwaysSample(), nil, in},
		{"entry added", insert("me", "x"), nil, "me=x," + in},
		{"entry modified", insert("congo", "9"), nil, "congo=9,foo@bar@baz=1,rojo=2,1vendor=3,x@=5"},
		{"entry deleted", editSampler(func(ts trace.TraceState) trace.TraceState { return ts.Delete("rojo") }), nil, "foo@bar@baz=1,1vendor=3,congo=4,x@=5"},
		{"new trace", sdktrace.AlwaysSample(), []trace.SpanStartOption{trace.WithNewRoot()}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(tc.sampler))
			defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()

			ctx := extract(p, "traceparent", suiteTraceparent, "tracestate", in)
			assert.Equal(t, "rojo=2,congo=4", trace.SpanContextFromContext(ctx).TraceState().String())
			assert.Equal(t, in, inject(p, ctx).Get("tracestate"), "the extracted context itself")

			ctx, span := tp.Tracer("test").Start(ctx, "child", tc.opts...)
			defer span.End()
			ctx, grandchild := tp.Tracer("test").Start(ctx, "grandchild")
			defer grandchild.End()
			h := inject(p, ctx)
			if tc.want == "" {
				assert.Empty(t, h.Values("tracestate"))
				return
			}
			assert.Equal(t, tc.want, h.Get("tracestate"))
			assert.Equal(t, span.SpanContext().TraceID(), trace.SpanContextFromContext(ctx).TraceID())
		})
	}
}

func TestTracestateCarriedTruncatedTo32(t *testing.T) {
	// 31 entries, one of them long and unknown to trace.TraceState, plus two
	// added here: the long entry goes first, then the rightmost.
	long := "x@@y=" + strings.Repeat("v", 200)
	in := barMembers(1, 15) + "," + long + "," + barMembers(16, 30)
	p := New()
	ctx := extract(p, "traceparent", suiteTraceparent, "tracestate", in)
	sc := trace.SpanContextFromContext(ctx)
	ts, err := sc.TraceState().Insert("me", "1")
	require.NoError(t, err)
	ts, err = ts.Insert("you", "2")
	require.NoError(t, err)
	ctx = trace.ContextWithSpanContext(ctx, sc.WithTraceState(ts))
	assert.Equal(t, "you=2,me=1,"+barMembers(1, 30), inject(p, ctx).Get("tracestate"))

	ts, err = ts.Insert("him", "3")
	require.NoError(t, err)
	ctx = trace.ContextWithSpanContext(ctx, sc.WithTraceState(ts))
	assert.Equal(t, "him=3,you=2,me=1,"+barMembers(1, 29), inject(p, ctx).Get("tracestate"))
}

func TestSecondExtractHidesCarriedState(t *testing.T) {
	p := New()
	extract(p, "traceparent", suiteTraceparent, "tracestate", "rojo=2") // cached, as on any busy service
	ctx := extract(p, "traceparent", suiteTraceparent, "tracestate", "a@@b=1,rojo=2")
	require.Equal(t, "a@@b=1,rojo=2", inject(p, ctx).Get("tracestate"))
	ctx = p.Extract(ctx, propagationHeader("traceparent", suiteTraceparent, "tracestate", "rojo=2"))
	assert.Equal(t, "rojo=2", inject(p, ctx).Get("tracestate"))
}
