// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// TestCachedExtractSeesEachHeader extracts many more distinct headers than
// the caches have slots, twice over: every result must be its own header's,
// whether it came from the cache or was parsed again after an eviction.
func TestCachedExtractSeesEachHeader(t *testing.T) {
	p := New()
	const n = 4 * cacheSlots
	for round := range 2 {
		for i := range n {
			ctx := extract(p,
				"traceparent", suiteTraceparent,
				"tracestate", fmt.Sprintf("v%d=x,w=%d", i, i),
				"baggage", fmt.Sprintf("id=%d,k=v;p=%d", i, i))
			bag := baggage.FromContext(ctx)
			require.Equal(t, fmt.Sprint(i), bag.Member("id").Value(), "round %d", round)
			require.Equal(t, fmt.Sprintf("p=%d", i), bag.Member("k").Properties()[0].String())
			ts := trace.SpanContextFromContext(ctx).TraceState()
			require.Equal(t, fmt.Sprint(i), ts.Get("w"), "round %d", round)
			require.Equal(t, 2, ts.Len())
		}
	}
}

// TestCachedExtractStillReports: a header that fails is not cached, so the
// failure is reported on every Extract, and baggage dropped by the ingress
// policy is counted each time even when the rest comes from the cache.
func TestCachedExtractStillReports(t *testing.T) {
	reader, newP := meteredPropagator(t)
	p := newP(WithIngressDeny("denied"))
	for range 3 {
		ctx := extract(p,
			"traceparent", suiteTraceparent,
			"tracestate", "a=1,a=2",
			"baggage", "ok=1,denied=2")
		assert.Equal(t, "1", baggage.FromContext(ctx).Member("ok").Value())
		assert.Equal(t, 1, baggage.FromContext(ctx).Len())
	}
	assert.Equal(t, map[string]int64{"tracestate.duplicate_key": 3},
		counts(t, reader, "otelctx.propagation.errors"))
	assert.Equal(t, map[string]int64{"ingress.denied": 3},
		counts(t, reader, "otelctx.baggage.dropped"))
}

// TestCachedInjectPerDestination injects one baggage to destinations with
// different grants, in turns: the cache must not hand one destination's
// header to another, and must count what it withholds every time.
func TestCachedInjectPerDestination(t *testing.T) {
	reader, newP := meteredPropagator(t)
	p := newP(
		WithEgress(EgressRule{Hosts: []string{"a.internal"}, Keys: []string{"a"}}),
		WithEgress(EgressRule{Hosts: []string{"b.internal"}, Keys: []string{"a", "b"}}),
	)
	ctx := baggage.ContextWithBaggage(context.Background(), mustBaggage(t, "a=1,b=2,c=3"))
	const toA, toB = "a.internal", "b.internal"
	for range 3 {
		assert.Equal(t, "a=1", injectTo(p, ctx, toA).Get("baggage"))
		assert.Equal(t, "a=1,b=2", injectTo(p, ctx, toB).Get("baggage"))
	}
	assert.Equal(t, map[string]int64{"egress.denied": 3 * (2 + 1)},
		counts(t, reader, "otelctx.baggage.dropped"))

	// Another propagator on the same baggage keeps its own policy.
	assert.Equal(t, "a=1,b=2,c=3", injectTo(New(allEgress), ctx, toA).Get("baggage"))
}

// TestCachesConcurrent runs Extract and Inject on shared and distinct
// headers from many goroutines; under -race this checks the caches'
// publication, and every result is checked against its input.
func TestCachesConcurrent(t *testing.T) {
	p := New(allEgress)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2 * cacheSlots {
				id := fmt.Sprint(i % (cacheSlots / 2 * (g%2 + 1)))
				ctx := extract(p, "traceparent", suiteTraceparent, "tracestate", "w="+id, "baggage", "id="+id)
				if !assert.Equal(t, id, baggage.FromContext(ctx).Member("id").Value()) ||
					!assert.Equal(t, "w="+id, trace.SpanContextFromContext(ctx).TraceState().String()) {
					return
				}
				h := inject(p, ctx)
				if !assert.Equal(t, "id="+id, h.Get("baggage")) || !assert.Equal(t, "w="+id, h.Get("tracestate")) {
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestLongHeadersNotCached(t *testing.T) {
	long := "k=" + fmt.Sprintf("%0*d", maxCachedHeader, 7)
	p := New(allEgress).(*propagator)
	ctx := extract(p, "baggage", long)
	require.Equal(t, 1, baggage.FromContext(ctx).Len())
	e := parsedBaggage.slot(long).Load()
	assert.True(t, e == nil || e.header != long, "cached")
	assert.Equal(t, long, inject(p, ctx).Get("baggage"))
}

// TestCacheKeepsNoRequestMemory: the caches outlive the request, so what
// they keep must not point into the carrier's strings.
func TestCacheKeepsNoRequestMemory(t *testing.T) {
	bagIn, tsIn := "detach=1,k=v", "detach=1"
	var ctx context.Context
	for range 2 { // kept the second time
		ctx = extract(New(), "traceparent", suiteTraceparent, "tracestate", tsIn, "baggage", bagIn)
	}
	require.Equal(t, "v", baggage.FromContext(ctx).Member("k").Value())

	e := parsedBaggage.slot(bagIn).Load()
	require.NotNil(t, e)
	assert.Equal(t, bagIn, e.header)
	assert.False(t, within(bagIn, e.header))
	assert.False(t, within(bagIn, e.value.Member("k").Value()))
	m := parsedMembers.slot("k=v").Load()
	require.NotNil(t, m, "the member kept too")
	assert.True(t, within(m.header, e.value.Member("k").Value()), "parsed from the copy")

	te := parsedTracestate.slot(tsIn).Load()
	require.NotNil(t, te)
	assert.False(t, within(tsIn, te.header))
	assert.False(t, within(tsIn, te.value.Get("detach")))
}

// TestCacheKeepsRepeatedHeadersOnly: a header seen once is parsed but not
// kept, so that headers that never repeat cost no copy and no entry; seen
// again, it is kept.
func TestCacheKeepsRepeatedHeadersOnly(t *testing.T) {
	// Headers of their own, so that the test holds when run again (-count).
	n := rand.Uint32()
	bagIn, tsIn := fmt.Sprintf("once=%d,k=v", n), fmt.Sprintf("once=%d", n)
	kept := func() (bag, ts bool) {
		e, te := parsedBaggage.slot(bagIn).Load(), parsedTracestate.slot(tsIn).Load()
		return e != nil && e.header == bagIn, te != nil && te.header == tsIn
	}
	for i, want := range []bool{false, true} {
		ctx := extract(New(), "traceparent", suiteTraceparent, "tracestate", tsIn, "baggage", bagIn)
		require.Equal(t, "v", baggage.FromContext(ctx).Member("k").Value())
		require.Equal(t, strconv.FormatUint(uint64(n), 10), trace.SpanContextFromContext(ctx).TraceState().Get("once"))
		bag, ts := kept()
		assert.Equal(t, want, bag, "baggage kept after extract %d", i+1)
		assert.Equal(t, want, ts, "tracestate kept after extract %d", i+1)
	}
}

// within reports whether sub's bytes lie inside s's.
func within(s, sub string) bool {
	b, p := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(sub)))
	return p >= b && p < b+uintptr(len(s))
}

// TestInjectFollowsBaggageChanges: in one trace, a baggage changed after the
// first Inject is encoded as it is now, never as it was.
func TestInjectFollowsBaggageChanges(t *testing.T) {
	p := New(allEgress).(*propagator)
	ctx := extract(p, "traceparent", suiteTraceparent, "baggage", "k=v,n=1")
	require.Equal(t, "k=v,n=1", inject(p, ctx).Get("baggage"))
	require.Equal(t, "k=v,n=1", inject(p, ctx).Get("baggage"), "a hit")

	set := func(ctx context.Context, key, value string, props ...baggage.Property) context.Context {
		m, err := baggage.NewMemberRaw(key, value, props...)
		require.NoError(t, err)
		bag, err := baggage.FromContext(ctx).SetMember(m)
		require.NoError(t, err)
		return baggage.ContextWithBaggage(ctx, bag)
	}
	assert.Equal(t, "k=w,n=1", inject(p, set(ctx, "k", "w")).Get("baggage"), "a changed value")
	assert.Equal(t, "k=v,m=2,n=1", inject(p, set(ctx, "m", "2")).Get("baggage"), "an added member")
	prop, err := baggage.NewKeyValuePropertyRaw("p", "q")
	require.NoError(t, err)
	assert.Equal(t, "k=v;p=q,n=1", inject(p, set(ctx, "k", "v", prop)).Get("baggage"), "an added property")
	without := baggage.ContextWithBaggage(ctx, baggage.FromContext(ctx).DeleteMember("n"))
	assert.Equal(t, "k=v", inject(p, without).Get("baggage"), "a removed member")
	assert.Equal(t, "k=v,n=1", inject(p, ctx).Get("baggage"))
}

// TestMembersParsedAsParse: the baggage Extract builds from members parsed
// one by one, some kept from earlier headers, is the one baggage.Parse
// makes of the whole header: the same members, values and properties, as
// Member, String and Properties give them.
// TestMemberBases: a header of known members and a new one is built from
// the baggage of the known ones (memberBases), wherever the new member is,
// and is what baggage.Parse makes of it, properties included.
func TestMemberBases(t *testing.T) {
	// Known members, kept in slots of their own.
	var known []string
	var kms []*knownMember
	for n := 0; len(known) < 3; n++ {
		seg := [...]string{"tenant.id=acme;p=1;q", "user.id=%C3%A9", "k=v%2Cw"}[len(known)]
		if n > 0 {
			seg = fmt.Sprintf("x%d.", n) + seg // another key, if the slot is taken
		}
		slot := parsedMembers.slot(seg)
		if slices.ContainsFunc(known, func(k string) bool { return parsedMembers.slot(k) == slot }) {
			continue
		}
		keepMember(seg, parseMember(seg))
		e := slot.Load()
		require.NotNil(t, e, seg)
		require.Equal(t, seg, e.header)
		known, kms = append(known, seg), append(kms, e.value)
	}
	p := New(allEgress)
	header := func(i, at int) string {
		ms := slices.Clone(known)
		return strings.Join(slices.Insert(ms, at, fmt.Sprintf("request.id=r-%d", i)), ",")
	}

	// The path is taken: a marked base, of the same keys, shows through.
	marked, err := baggage.NewMemberRaw(kms[1].member.Key(), "marked")
	require.NoError(t, err)
	mark, err := baggage.New(kms[0].member, marked, kms[2].member)
	require.NoError(t, err)
	memberBases.store(kms, mark)
	got := baggage.FromContext(extract(p, "baggage", header(0, 1)))
	assert.Equal(t, "marked", got.Member(kms[1].member.Key()).Value(), "built from the cached baggage of the known members")

	// And with the known members' own baggage, it is what Parse makes.
	base, err := baggage.New(kms[0].member, kms[1].member, kms[2].member)
	require.NoError(t, err)
	memberBases.store(kms, base)
	for i := 1; i <= 8; i++ {
		for at := 0; at <= len(known); at++ {
			h := header(i, at)
			want, err := baggage.Parse(h)
			require.NoError(t, err, h)
			got := baggage.FromContext(extract(p, "baggage", h))
			require.Equal(t, want.Len(), got.Len(), h)
			for _, w := range want.Members() {
				g := got.Member(w.Key())
				assert.Equal(t, w.String(), g.String(), h)
				assert.Equal(t, w.Properties(), g.Properties(), h)
			}
		}
	}
}

func TestMembersParsedAsParse(t *testing.T) {
	values := []string{"1", "x%2Cy", "%C3%A9", "%e9", "a%41", "%FF%FE", "sp%20ace", "%25"}
	props := []string{"", ";p", ";p=1", ";p=%25;q", ";k=v%3B", ";a;b=%ff"}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		var members []string
		for _, k := range []string{"a", "b", "c", "d", "e"} {
			if rnd.IntN(3) > 0 {
				members = append(members, k+"="+values[rnd.IntN(len(values))]+props[rnd.IntN(len(props))])
			}
		}
		if len(members) == 0 {
			continue
		}
		header := strings.Join(members, ",")
		want, err := baggage.Parse(header)
		require.NoError(t, err, header)
		for range 3 { // parsed, then kept, then from the caches
			got := baggage.FromContext(extract(New(allEgress), "baggage", header))
			require.Equal(t, want.Len(), got.Len(), header)
			for _, w := range want.Members() {
				g := got.Member(w.Key())
				assert.Equal(t, w.Value(), g.Value(), header)
				assert.Equal(t, w.String(), g.String(), header)
				assert.Equal(t, w.Properties(), g.Properties(), header)
			}
		}
	}
}
