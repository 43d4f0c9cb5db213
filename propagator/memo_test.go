// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
)

// injectedBaggage returns the baggage Inject and InjectBaggage to host
// write for ctx, and what the latter withholds, in a tally, at the third
// call of each, after the memo is built.
func injectedBaggage(t *testing.T, p *propagator, ctx context.Context, host string) (plain, toHost string, tl tally) {
	t.Helper()
	for range 3 {
		c := propagation.MapCarrier{}
		p.Inject(ctx, c)
		plain = c.Get(baggageHeader)
		tl = tally{}
		toHost = p.baggageHeader(ctx, baggage.FromContext(ctx), host, false, &tl)
	}
	return plain, toHost, tl
}

// TestMemoFollowsTheBaggage: after an Extract, Inject writes the baggage the
// context holds at the time, however it was changed since, exactly as for
// the same baggage in a context Extract never saw.
func TestMemoFollowsTheBaggage(t *testing.T) {
	p := New(
		WithIngressAllow("a", "b", "c", "d"),
		WithEgress(EgressRule{Hosts: []string{"*"}, Keys: []string{"a", "b", "c", "d"}}),
	).(*propagator)
	ctx := p.Extract(context.Background(), propagation.MapCarrier{
		"baggage": "b=2;p=1,a=%C3%A9t%C3%A9;q,c=3",
	})
	bag := baggage.FromContext(ctx)
	plain, _, _ := injectedBaggage(t, p, ctx, "")
	assert.Equal(t, "a=%C3%A9t%C3%A9;q,b=2;p=1,c=3", plain)

	b := bag.Member("b")
	prop, err := baggage.NewKeyValuePropertyRaw("p", "2")
	require.NoError(t, err)
	sameValueNewProp, err := baggage.NewMemberRaw("b", b.Value(), prop)
	require.NoError(t, err)
	noProps, err := baggage.NewMemberRaw("b", b.Value())
	require.NoError(t, err)
	newValue, err := baggage.NewMemberRaw("c", "4")
	require.NoError(t, err)
	added, err := baggage.NewMemberRaw("d", "5")
	require.NoError(t, err)
	propOnPlain, err := baggage.NewMemberRaw("c", bag.Member("c").Value(), prop)
	require.NoError(t, err)
	parsed := mustBaggage(t, "b=2;p=1").Member("b")
	parsedOnPlain := mustBaggage(t, "c=3; r = %41").Member("c")

	for name, change := range map[string]func(baggage.Baggage) baggage.Baggage{
		"value":                 func(b baggage.Baggage) baggage.Baggage { b, _ = b.SetMember(newValue); return b },
		"property value":        func(b baggage.Baggage) baggage.Baggage { b, _ = b.SetMember(sameValueNewProp); return b },
		"properties removed":    func(b baggage.Baggage) baggage.Baggage { b, _ = b.SetMember(noProps); return b },
		"property added":        func(b baggage.Baggage) baggage.Baggage { b, _ = b.SetMember(propOnPlain); return b },
		"member deleted":        func(b baggage.Baggage) baggage.Baggage { return b.DeleteMember("a") },
		"member added":          func(b baggage.Baggage) baggage.Baggage { b, _ = b.SetMember(added); return b },
		"replaced, same member": func(b baggage.Baggage) baggage.Baggage { b, _ = b.SetMember(parsed); return b },
		"parsed property added": func(b baggage.Baggage) baggage.Baggage { b, _ = b.SetMember(parsedOnPlain); return b },
		"emptied":               func(baggage.Baggage) baggage.Baggage { return baggage.Baggage{} },
	} {
		t.Run(name, func(t *testing.T) {
			changed := change(bag)
			got, _, _ := injectedBaggage(t, p, baggage.ContextWithBaggage(ctx, changed), "")
			want, _, _ := injectedBaggage(t, p, baggage.ContextWithBaggage(context.Background(), changed), "")
			assert.Equal(t, want, got)
			if name != "replaced, same member" {
				assert.NotEqual(t, plain, got)
			}
		})
	}
	// The extracted context itself still writes what it was given.
	again, _, _ := injectedBaggage(t, p, ctx, "")
	assert.Equal(t, plain, again)
}

// TestMemoMatchesEncoding: for random baggage headers and egress rules,
// what Inject and InjectBaggage write for an extracted context, and what
// they withhold, is what they write and withhold for the same baggage in a
// context Extract never saw.
func TestMemoMatchesEncoding(t *testing.T) {
	keys := []string{"a", "b", "c", "user.id", "tenant", "z"}
	values := []string{"1", "x%2Cy", "%C3%A9", "%e9", "a%41", "long-" + strings.Repeat("v", 40), "sp%20ace"}
	props := []string{"", ";p", ";p=1", ";p=%25;q", ";k=v%3B"}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		var hdr []string
		for _, k := range keys {
			if rnd.IntN(3) > 0 {
				hdr = append(hdr, k+"="+values[rnd.IntN(len(values))]+props[rnd.IntN(len(props))])
			}
		}
		rnd.Shuffle(len(hdr), func(i, j int) { hdr[i], hdr[j] = hdr[j], hdr[i] })
		var everyHost, internal []string
		for _, k := range keys {
			switch rnd.IntN(3) {
			case 0:
				everyHost = append(everyHost, k)
			case 1:
				internal = append(internal, k)
			}
		}
		opts := []Option{WithIngressAllow(keys...)}
		rules := []EgressRule{{Hosts: []string{"*.internal"}, Keys: internal}}
		if len(everyHost) > 0 {
			rules = append(rules, EgressRule{Hosts: []string{"*"}, Keys: everyHost})
		}
		if rnd.IntN(2) == 0 {
			rules = append(rules, EgressRule{Hosts: []string{"api.internal"}, Prefixes: []string{"u"}})
		}
		opts = append(opts, WithEgress(rules...))
		p := New(opts...).(*propagator)
		header := strings.Join(hdr, ",")
		ctx := p.Extract(context.Background(), propagation.MapCarrier{"baggage": header})
		bag := baggage.FromContext(ctx)
		for _, host := range []string{"api.internal", "db.internal", "example.com"} {
			name := fmt.Sprintf("%d %q %v %s", i, header, rules, host)
			gotPlain, gotHost, gotT := injectedBaggage(t, p, ctx, host)
			wantPlain, wantHost, wantT := injectedBaggage(t, p, baggage.ContextWithBaggage(context.Background(), bag), host)
			assert.Equal(t, wantPlain, gotPlain, name)
			assert.Equal(t, wantHost, gotHost, name)
			assert.Equal(t, wantT, gotT, name)
		}
	}
}

// TestMemoBuiltOnSecondCall: a request that makes one outbound call, whose
// baggage Inject and then InjectBaggage write (as otelhttp's transport and
// NewTransport do), encodes it without building a memo; its second call
// builds it, and every later one uses it.
func TestMemoBuiltOnSecondCall(t *testing.T) {
	p := New(WithIngressAllow("a", "b"), WithEgress(
		EgressRule{Hosts: []string{"*"}, Keys: []string{"a"}},
		EgressRule{Hosts: []string{"api.internal"}, Keys: []string{"b"}},
	)).(*propagator)
	ctx := p.Extract(context.Background(), propagation.MapCarrier{"baggage": "b=2,a=1"})
	e := ctx.Value(extractedKey{}).(*extracted)
	call := func() (string, string) {
		c := propagation.MapCarrier{}
		p.Inject(ctx, c)
		anyHost := c.Get(baggageHeader)
		require.NoError(t, InjectBaggage(ctx, p, c, "api.internal"))
		return anyHost, c.Get(baggageHeader)
	}
	for i := range 3 {
		anyHost, host := call()
		assert.Equal(t, "a=1", anyHost)
		assert.Equal(t, "a=1,b=2", host)
		if i == 0 {
			assert.Nil(t, e.memoized.Load(), "built for one call")
		} else {
			assert.NotNil(t, e.memoized.Load())
		}
	}
}

// TestMemoLimits: a memo made under one propagator's limits is written
// within another's: the members a smaller limit leaves out are left out
// and counted, as for a context Extract never saw.
func TestMemoLimits(t *testing.T) {
	keys := []string{"a", "b", "c"}
	ctx := New(WithIngressAllow(keys...)).Extract(context.Background(), propagation.MapCarrier{"baggage": "c=3,b=2;p=long,a=1"})
	bag := baggage.FromContext(ctx)
	p := New(WithMaxMemberBytes(4), WithEgress(EgressRule{Hosts: []string{"*"}, Keys: keys})).(*propagator)
	got, _, tl := injectedBaggage(t, p, ctx, "api.internal")
	require.NotNil(t, ctx.Value(extractedKey{}).(*extracted).memoized.Load(), "written from the memo")
	want, _, wantT := injectedBaggage(t, p, baggage.ContextWithBaggage(context.Background(), bag), "api.internal")
	assert.Equal(t, "a=1,c=3", got)
	assert.Equal(t, want, got)
	assert.Equal(t, wantT, tl)
	assert.EqualValues(t, 1, tl.n[reasonEgressLimitMemberBytes])
}
