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
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
)

// member describes an expected baggage member: props are "k" or "k=v".
type member struct {
	value string
	props []string
}

func baggageOf(t *testing.T, b baggage.Baggage) map[string]member {
	t.Helper()
	got := map[string]member{}
	for _, m := range b.Members() {
		var props []string
		for _, p := range m.Properties() {
			if v, ok := p.Value(); ok {
				props = append(props, p.Key()+"="+v)
			} else {
				props = append(props, p.Key())
			}
		}
		got[m.Key()] = member{m.Value(), props}
	}
	return got
}

// Examples of the W3C Baggage specification and its test suite
// (test/baggage/test_baggage.py).
var baggageCases = []struct {
	name    string
	headers []string
	want    map[string]member
}{
	{"spec example with properties",
		[]string{"baggage", "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue"},
		map[string]member{
			"key1": {"value1", []string{"property1", "property2"}},
			"key2": {"value2", nil},
			"key3": {"value3", []string{"propertyKey=propertyValue"}},
		}},
	{"single header",
		[]string{"baggage", "userId=alice,serverNode=DF%2028,isProduction=false"},
		map[string]member{"userId": {"alice", nil}, "serverNode": {"DF 28", nil}, "isProduction": {"false", nil}}},
	{"split headers",
		[]string{"baggage", "userId=alice", "baggage", "serverNode=DF%2028,isProduction=false"},
		map[string]member{"userId": {"alice", nil}, "serverNode": {"DF 28", nil}, "isProduction": {"false", nil}}},
	{"spaces around names and values",
		[]string{"baggage", "userId =   alice", "baggage", "serverNode = DF%2028, isProduction = false"},
		map[string]member{"userId": {"alice", nil}, "serverNode": {"DF 28", nil}, "isProduction": {"false", nil}}},
	{"simple", []string{"baggage", "SomeKey=SomeValue"}, map[string]member{"SomeKey": {"SomeValue", nil}}},
	{"multiple", []string{"baggage", "SomeKey=SomeValue,SomeKey2=SomeValue2"},
		map[string]member{"SomeKey": {"SomeValue", nil}, "SomeKey2": {"SomeValue2", nil}}},
	{"multiple ows", []string{"baggage", "SomeKey \t = \t SomeValue \t , \t SomeKey2 \t = \t SomeValue2 \t "},
		map[string]member{"SomeKey": {"SomeValue", nil}, "SomeKey2": {"SomeValue2", nil}}},
	{"multiple property", []string{"baggage", "SomeKey=SomeValue;SomeProp,SomeKey2=SomeValue2;SomeProp2"},
		map[string]member{"SomeKey": {"SomeValue", []string{"SomeProp"}}, "SomeKey2": {"SomeValue2", []string{"SomeProp2"}}}},
	{"multiple property ows", []string{"baggage", "SomeKey \t = \t SomeValue \t ; \t SomeProp \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t SomeProp2"},
		map[string]member{"SomeKey": {"SomeValue", []string{"SomeProp"}}, "SomeKey2": {"SomeValue2", []string{"SomeProp2"}}}},
	{"multiple kv property", []string{"baggage", "SomeKey=SomeValue;SomePropKey=SomePropValue,SomeKey2=SomeValue2;SomePropKey2=SomePropValue2"},
		map[string]member{"SomeKey": {"SomeValue", []string{"SomePropKey=SomePropValue"}}, "SomeKey2": {"SomeValue2", []string{"SomePropKey2=SomePropValue2"}}}},
	{"multiple kv property ows", []string{"baggage", "SomeKey \t = \t SomeValue \t ; \t SomePropKey=SomePropValue \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t SomePropKey2 \t = \t SomePropValue2"},
		map[string]member{"SomeKey": {"SomeValue", []string{"SomePropKey=SomePropValue"}}, "SomeKey2": {"SomeValue2", []string{"SomePropKey2=SomePropValue2"}}}},
	{"multiple equals", []string{"baggage", "SomeKey=SomeValue=equals"}, map[string]member{"SomeKey": {"SomeValue=equals", nil}}},
	{"percent encoded", []string{"baggage", "SomeKey=%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29"},
		map[string]member{"SomeKey": {"\t \"';=asdf!@#$%^&*()", nil}}},
	{"percent encoded ows", []string{"baggage", "SomeKey \t = \t %09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29 \t "},
		map[string]member{"SomeKey": {"\t \"';=asdf!@#$%^&*()", nil}}},
	{"lower-case percent encoding", []string{"baggage", "k=%e2%82%ac"}, map[string]member{"k": {"€", nil}}},
	{"empty value", []string{"baggage", "k="}, map[string]member{"k": {"", nil}}},
	{"empty members", []string{"baggage", ",a=1,, ,b=2,"}, map[string]member{"a": {"1", nil}, "b": {"2", nil}}},
	{"empty properties", []string{"baggage", "a=1;;p; ;q=2;"}, map[string]member{"a": {"1", []string{"p", "q=2"}}}},
	{"duplicate keys: last wins", []string{"baggage", "k=1,j=2,k=3"}, map[string]member{"k": {"3", nil}, "j": {"2", nil}}},
	{"duplicate keys across headers", []string{"baggage", "k=1", "baggage", "k=2"}, map[string]member{"k": {"2", nil}}},
	{"invalid members dropped, others kept",
		[]string{"baggage", "a=1,b c=2,novalue,=v,k{=v,q=\"x\",p=%zz,r=%4,s=v;p q,t=v\\,u=ok"},
		map[string]member{"a": {"1", nil}, "u": {"ok", nil}}},
	{"not UTF-8 replaced", []string{"baggage", "k=a%FFb"}, map[string]member{"k": {"a\uFFFDb", nil}}},
	{"no header", nil, map[string]member{}},
	{"empty header", []string{"baggage", ""}, map[string]member{}},
}

func TestExtractBaggage(t *testing.T) {
	p := New()
	for _, tc := range baggageCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := extract(p, tc.headers...)
			assert.Equal(t, tc.want, baggageOf(t, baggage.FromContext(ctx)))
		})
	}
}

func TestBaggageRoundTrip(t *testing.T) {
	// Whatever is extracted is injected as a header that extracts the same,
	// with stock baggage.Parse as well.
	p := New(allEgress)
	for _, tc := range baggageCases {
		t.Run(tc.name, func(t *testing.T) {
			b := baggage.FromContext(extract(p, tc.headers...))
			h := inject(p, baggage.ContextWithBaggage(context.Background(), b))
			if b.Len() == 0 {
				assert.Empty(t, h.Values("baggage"))
				return
			}
			require.Len(t, h.Values("baggage"), 1)
			again := baggage.FromContext(extract(p, "baggage", h.Get("baggage")))
			assert.Equal(t, baggageOf(t, b), baggageOf(t, again))
			parsed, err := baggage.Parse(h.Get("baggage"))
			require.NoError(t, err)
			assert.Equal(t, baggageOf(t, b), baggageOf(t, parsed))
		})
	}
}

func TestMemberSizeMatchesOTel(t *testing.T) {
	// The limits count members as baggage.Member.String writes them, which is
	// also how baggage.New counts them: a mismatch would let baggage.New
	// truncate in map order.
	for _, m := range []string{
		"k=v", "key=", "k=a%20b", "k=%25", "k=%2C%3B%22%5C", "k=%e2%82%ac", "k=a%FFb%C3",
		"k=v;p", "k=v;p=1", "k=v;p=%20;q", "k = v ; p = x%41 ; q", "k=v;;p;", "k=%41%42",
	} {
		t.Run(m, func(t *testing.T) {
			e, _, _, ok := parseBaggageMember(m)
			require.True(t, ok)
			built := makeMember(e.key, e.value, e.props)
			assert.Equal(t, len(built.String()), e.size, "baggage.Member.String")
			assert.Len(t, appendMember(nil, built), e.size, "Inject")
		})
	}
}

func members(n int, value string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("k%03d=%s", i, value)
	}
	return strings.Join(parts, ",")
}

func keys(b baggage.Baggage) []string {
	var ks []string
	for _, m := range b.Members() {
		ks = append(ks, m.Key())
	}
	return ks
}

func keyRange(from, to int) []string {
	var ks []string
	for i := from; i <= to; i++ {
		ks = append(ks, fmt.Sprintf("k%03d", i))
	}
	return ks
}

func TestExtractLimits(t *testing.T) {
	big := strings.Repeat("v", 995) // members of 1000 bytes
	for _, tc := range []struct {
		name   string
		opts   []Option
		header string
		want   []string
	}{
		{"64 members by default", nil, members(70, "v"), keyRange(0, 63)},
		{"members raised", []Option{WithMaxMembers(100)}, members(70, "v"), keyRange(0, 69)},
		{"members cap below the W3C minimum raised to it", []Option{WithMaxMembers(10)}, members(70, "v"), keyRange(0, 63)},
		{"8192 bytes by default", nil, members(10, big), keyRange(0, 7)},
		{"a later member that fits is kept", nil, members(9, big) + ",small=1", append(keyRange(0, 7), "small")},
		{"bytes raised", []Option{WithMaxBytes(20000)}, members(10, big), keyRange(0, 9)},
		{"bytes cap below the W3C minimum raised to it", []Option{WithMaxBytes(100)}, members(10, big), keyRange(0, 7)},
		{"member bytes", []Option{WithMaxMemberBytes(999)}, members(3, big) + ",small=1", []string{"small"}},
		{"member bytes count properties", []Option{WithMaxMemberBytes(10)}, "a=1;p=12345,b=1;p=1,c=1234567", []string{"b", "c"}},
		{"both raised", []Option{WithMaxMembers(200), WithMaxBytes(100000)}, members(150, big[:90]), keyRange(0, 149)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(tc.opts...)
			for range 3 { // the same every time
				b := baggage.FromContext(extract(p, "baggage", tc.header))
				assert.ElementsMatch(t, tc.want, keys(b))
			}
		})
	}
}

func TestLegacyHeaders(t *testing.T) {
	p := New(
		WithLegacyHeader("X-Request-Id", "request.id"),
		WithLegacyHeader("userid", "user.id"),
		WithLegacyHeader("x-tenant", "tenant"),
		WithIngressDeny("tenant"),
	)
	ctx := extract(p,
		"x-request-id", " abc%20def ",
		"UserID", "alice",
		"X-Tenant", "evil",
		"baggage", "user.id=bob")
	assert.Equal(t, map[string]member{
		"request.id": {"abc%20def", nil}, // taken verbatim
		"user.id":    {"bob", nil},       // the baggage header wins
	}, baggageOf(t, baggage.FromContext(ctx)))

	ctx = extract(p, "x-request-id", "a\xffb")
	assert.Equal(t, "a\uFFFDb", baggage.FromContext(ctx).Member("request.id").Value())
}

// TestLegacyHeadersOnMapCarrier: on a carrier without multiple values, a
// legacy header the policy rejects must not stand in for the baggage header.
func TestLegacyHeadersOnMapCarrier(t *testing.T) {
	p := New(WithLegacyHeader("x-user", "user"), WithIngressDeny("user"))
	in := propagation.MapCarrier{"baggage": "a=1", "x-user": "evil=1"}
	assert.Equal(t, map[string]member{"a": {"1", nil}},
		baggageOf(t, baggage.FromContext(p.Extract(context.Background(), in))))

	p = New(WithLegacyHeader("x-user", "user"), WithPublicEndpoint(), WithPublicAllow("request.id"))
	in = propagation.MapCarrier{"baggage": "request.id=1", "x-user": "admin=true"}
	assert.Equal(t, map[string]member{"request.id": {"1", nil}},
		baggageOf(t, baggage.FromContext(p.Extract(context.Background(), in))))
}

func TestLegacyHeaderInvalidKeyIgnored(t *testing.T) {
	errs := captureErrors(t)
	p := New(WithLegacyHeader("x-a", "bad key"), WithLegacyHeader("", "k"))
	assert.Len(t, errs(), 2)
	assert.Empty(t, baggageOf(t, baggage.FromContext(extract(p, "x-a", "v"))))
}

func TestInjectBaggageEncoding(t *testing.T) {
	p := New(allEgress)
	prop, err := baggage.NewKeyValuePropertyRaw("p", "a;b")
	require.NoError(t, err)
	m1, err := baggage.NewMemberRaw("name", "Jane Doe, €", prop)
	require.NoError(t, err)
	m2, err := baggage.NewMemberRaw("ascii", "%x=y")
	require.NoError(t, err)
	m3, err := baggage.NewMemberRaw("not a token", "v") // no header can carry it
	require.NoError(t, err)
	b, err := baggage.New(m1, m2, m3)
	require.NoError(t, err)

	h := inject(p, baggage.ContextWithBaggage(context.Background(), b))
	assert.Equal(t, "ascii=%25x=y,name=Jane%20Doe%2C%20%E2%82%AC;p=a%3Bb", h.Get("baggage"))
}

func TestInjectBaggageDeterministic(t *testing.T) {
	p := New(allEgress)
	ctx := extract(New(WithMaxBytes(1<<20)), "baggage", members(60, strings.Repeat("v", 150)))
	require.Equal(t, 60, baggage.FromContext(ctx).Len())
	first := inject(p, ctx).Get("baggage")
	for range 20 {
		require.Equal(t, first, inject(p, ctx).Get("baggage"))
	}
	// Sorted by key, cut at the byte limit.
	assert.True(t, strings.HasPrefix(first, "k000="), first)
	assert.LessOrEqual(t, len(first), 8192)
	assert.Len(t, strings.Split(first, ","), 52) // 52*156-1 = 8111; 53 would be 8267
}

func TestInjectLimits(t *testing.T) {
	ctx := baggage.ContextWithBaggage(context.Background(), mustBaggage(t, members(60, "v")+",big="+strings.Repeat("x", 200)))
	p := New(allEgress, WithMaxMemberBytes(100))
	got := inject(p, ctx).Get("baggage")
	assert.NotContains(t, got, "big=")
	assert.Len(t, strings.Split(got, ","), 60)

	// Local code can hold more members than the cap; the cap holds on the wire.
	var ms []baggage.Member
	for i := range 70 {
		m, err := baggage.NewMemberRaw(fmt.Sprintf("k%03d", i), "v")
		require.NoError(t, err)
		ms = append(ms, m)
	}
	var b baggage.Baggage
	for _, m := range ms {
		b, _ = b.SetMember(m)
	}
	require.Equal(t, 70, b.Len())
	got = inject(New(allEgress), baggage.ContextWithBaggage(context.Background(), b)).Get("baggage")
	assert.Equal(t, members(64, "v"), got)
}

func mustBaggage(t *testing.T, s string) baggage.Baggage {
	t.Helper()
	b, err := baggage.Parse(s)
	require.NoError(t, err)
	return b
}

func TestMemberBytesFollowsTotal(t *testing.T) {
	// Without WithMaxMemberBytes a single member may use the whole budget.
	p := New(WithMaxBytes(20000))
	b := baggage.FromContext(extract(p, "baggage", "big="+strings.Repeat("v", 15000)))
	assert.Equal(t, 1, b.Len())
	assert.Equal(t, 20000, newConfig(WithMaxBytes(20000)).maxMemberBytes)
	assert.Equal(t, 8192, newConfig(WithMaxMemberBytes(100000)).maxMemberBytes)
}
