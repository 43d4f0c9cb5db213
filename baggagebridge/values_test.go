// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

// header returns the W3C baggage header the stock propagator injects for ctx.
func header(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagation.Baggage{}.Inject(ctx, c)
	return c["baggage"]
}

// hop returns a context extracted by the stock propagator from what it
// injects for ctx: what the next service sees.
func hop(ctx context.Context) context.Context {
	c := propagation.MapCarrier{}
	propagation.Baggage{}.Inject(ctx, c)
	return propagation.Baggage{}.Extract(context.Background(), c)
}

func TestSetInvalid(t *testing.T) {
	utf8Prop, err := baggage.NewKeyProperty("clé")
	require.NoError(t, err, "stock accepts a UTF-8 property key")
	badValueProp, err := baggage.NewKeyValuePropertyRaw("p", "ok")
	require.NoError(t, err)

	for _, tc := range []struct {
		name       string
		key, value string
		props      []baggage.Property
		want       error
	}{
		{"empty key", "", "v", nil, baggagebridge.ErrInvalidKey},
		{"UTF-8 key", "clé", "v", nil, baggagebridge.ErrInvalidKey},
		{"space in key", "user id", "v", nil, baggagebridge.ErrInvalidKey},
		{"comma in key", "a,b", "v", nil, baggagebridge.ErrInvalidKey},
		{"equals in key", "a=b", "v", nil, baggagebridge.ErrInvalidKey},
		{"semicolon in key", "a;b", "v", nil, baggagebridge.ErrInvalidKey},
		{"slash in key", "a/b", "v", nil, baggagebridge.ErrInvalidKey},
		{"control in key", "a\x00", "v", nil, baggagebridge.ErrInvalidKey},
		{"invalid UTF-8 value", "k", "\xff\xfe", nil, baggagebridge.ErrInvalidValue},
		{"UTF-8 property key", "k", "v", []baggage.Property{utf8Prop}, baggagebridge.ErrInvalidKey},
		{"zero property", "k", "v", []baggage.Property{{}}, baggagebridge.ErrInvalidKey},
		{"valid then invalid property", "k", "v", []baggage.Property{badValueProp, utf8Prop}, baggagebridge.ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, err := baggagebridge.Set(context.Background(), "before", "kept")
			require.NoError(t, err)
			got, err := baggagebridge.Set(ctx, tc.key, tc.value, tc.props...)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, ctx, got, "ctx returned unchanged")
			v, ok := baggagebridge.Get(got, "before")
			assert.True(t, ok)
			assert.Equal(t, "kept", v)
		})
	}
}

func TestSetEncodingRoundTrip(t *testing.T) {
	values := []string{
		"",
		"plain",
		"with space",
		"a,b;c=d",
		"100%",
		"%20 is not decoded twice",
		"quote\"back\\slash",
		"unicode: héllo, 世界 🎉",
		"plus+sign",
		" leading and trailing ",
		"tab\tnewline\n",
	}
	for i, v := range values {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			ctx, err := baggagebridge.Set(context.Background(), "k", v)
			require.NoError(t, err)
			h := header(ctx)
			assert.NotContains(t, h[len("k="):], ",", "value separators are encoded")
			assert.NotContains(t, h[len("k="):], ";")
			got, ok := baggagebridge.Get(hop(ctx), "k")
			require.True(t, ok, "header %q", h)
			assert.Equal(t, v, got)
		})
	}
}

func TestSetProperties(t *testing.T) {
	flag, err := baggage.NewKeyProperty("flag")
	require.NoError(t, err)
	kv, err := baggage.NewKeyValuePropertyRaw("note", "a;b=c d")
	require.NoError(t, err)
	ctx, err := baggagebridge.Set(context.Background(), "user.id", "42", flag, kv)
	require.NoError(t, err)

	for name, ctx := range map[string]context.Context{"local": ctx, "next hop": hop(ctx)} {
		t.Run(name, func(t *testing.T) {
			m := baggage.FromContext(ctx).Member("user.id")
			assert.Equal(t, "42", m.Value())
			props := m.Properties()
			require.Len(t, props, 2)
			assert.Equal(t, "flag", props[0].Key())
			_, has := props[0].Value()
			assert.False(t, has)
			assert.Equal(t, "note", props[1].Key())
			v, has := props[1].Value()
			assert.True(t, has)
			assert.Equal(t, "a;b=c d", v)
		})
	}

	// Replacing a value replaces its properties too.
	ctx, err = baggagebridge.Set(ctx, "user.id", "43")
	require.NoError(t, err)
	assert.Empty(t, baggage.FromContext(ctx).Member("user.id").Properties())
}

func TestSetReplaceDelete(t *testing.T) {
	base := context.Background()
	ctx, err := baggagebridge.Set(base, "a", "1")
	require.NoError(t, err)
	ctx2, err := baggagebridge.Set(ctx, "a", "2")
	require.NoError(t, err)
	ctx3, err := baggagebridge.Set(ctx2, "b", "3")
	require.NoError(t, err)

	get := func(ctx context.Context, k string) string {
		v, ok := baggagebridge.Get(ctx, k)
		if !ok {
			return "<none>"
		}
		return v
	}
	assert.Equal(t, "1", get(ctx, "a"), "earlier contexts keep their values")
	assert.Equal(t, "2", get(ctx2, "a"))
	assert.Equal(t, "<none>", get(ctx2, "b"))
	assert.Equal(t, "2", get(ctx3, "a"))
	assert.Equal(t, "3", get(ctx3, "b"))
	assert.Equal(t, 2, baggage.FromContext(ctx3).Len(), "one member per key")

	ctx4 := baggagebridge.Delete(ctx3, "a")
	assert.Equal(t, "<none>", get(ctx4, "a"))
	assert.Equal(t, "3", get(ctx4, "b"))
	assert.Equal(t, "b=3", header(ctx4))
	assert.Equal(t, "2", get(ctx3, "a"), "Delete leaves its input alone")

	assert.Equal(t, ctx4, baggagebridge.Delete(ctx4, "missing"), "deleting a missing key changes nothing")
	assert.Equal(t, "<none>", get(base, "a"))
}

func TestGetExtractedReadsLikeSet(t *testing.T) {
	requireAmbient(t)
	set, err := baggagebridge.Set(context.Background(), "user.id", "42")
	require.NoError(t, err)
	c := propagation.MapCarrier{"baggage": "user.id=42"}
	extracted := propagation.Baggage{}.Extract(context.Background(), c)

	for name, ctx := range map[string]context.Context{"set": set, "extracted": extracted} {
		t.Run(name, func(t *testing.T) {
			v, ok := baggagebridge.Get(ctx, "user.id")
			assert.True(t, ok)
			assert.Equal(t, "42", v)
			asynctrack.Run(ctx, func(context.Context) {
				v, ok := baggagebridge.Current("user.id")
				assert.True(t, ok)
				assert.Equal(t, "42", v)
			})
			// Replace and delete work on extracted members as on set ones.
			ctx, err := baggagebridge.Set(ctx, "user.id", "43")
			require.NoError(t, err)
			assert.Equal(t, "user.id=43", header(ctx))
			ctx = baggagebridge.Delete(ctx, "user.id")
			assert.Empty(t, header(ctx))
			_, ok = baggagebridge.Get(ctx, "user.id")
			assert.False(t, ok)
		})
	}
}

func TestCurrent(t *testing.T) {
	requireAmbient(t)
	_, ok := baggagebridge.Current("user.id")
	require.False(t, ok, "no scope, no value")

	ctx, err := baggagebridge.Set(context.Background(), "user.id", "42")
	require.NoError(t, err)
	var wg sync.WaitGroup
	got := make(chan string, 3)
	read := func() {
		v, _ := baggagebridge.Current("user.id")
		got <- v
	}
	asynctrack.Run(ctx, func(ctx context.Context) {
		read()
		wg.Add(2)
		go func() { // a plain go statement
			defer wg.Done()
			read()
		}()
		asynctrack.Go(ctx, func(context.Context) {
			defer wg.Done()
			read()
		})
		wg.Wait() // a plain go statement sees the scope while it is open
	})
	close(got)
	var all []string
	for v := range got {
		all = append(all, v)
	}
	assert.Equal(t, []string{"42", "42", "42"}, all)
	_, ok = baggagebridge.Current("user.id")
	assert.False(t, ok, "the scope ends with Run")
}

// members returns n members whose encoded length is size each.
func fill(t *testing.T, ctx context.Context, prefix string, n, size int) context.Context {
	t.Helper()
	for i := range n {
		k := fmt.Sprintf("%s%03d", prefix, i)
		var err error
		ctx, err = baggagebridge.Set(ctx, k, strings.Repeat("v", size-len(k)-1))
		require.NoError(t, err)
	}
	return ctx
}

func headerKeys(t *testing.T, h string) []string {
	t.Helper()
	require.LessOrEqual(t, len(h), 8192, "header within the W3C limit")
	b, err := baggage.Parse(h)
	require.NoError(t, err)
	var keys []string
	for _, m := range b.Members() {
		keys = append(keys, m.Key())
	}
	slices.Sort(keys)
	return keys
}

func TestSetOversizedBytes(t *testing.T) {
	// 7 members of 1000 bytes and their commas: 7006 bytes.
	ctx := fill(t, context.Background(), "k", 7, 1000)
	big := strings.Repeat("x", 1500)
	ctx2, err := baggagebridge.Set(ctx, "big", big)
	require.ErrorIs(t, err, baggagebridge.ErrTooLarge)
	assert.ErrorContains(t, err, `"big"`)

	v, ok := baggagebridge.Get(ctx2, "big")
	assert.True(t, ok, "the local view keeps the value")
	assert.Equal(t, big, v)
	for i := range 7 {
		_, ok := baggagebridge.Get(ctx2, fmt.Sprintf("k%03d", i))
		assert.True(t, ok)
	}
	assert.Equal(t, []string{"k000", "k001", "k002", "k003", "k004", "k005", "k006"}, headerKeys(t, header(ctx2)))
	_, ok = baggagebridge.Get(hop(ctx2), "big")
	assert.False(t, ok, "a held value does not propagate")

	// A smaller value fits: it moves into the baggage.
	ctx3, err := baggagebridge.Set(ctx2, "big", "small")
	require.NoError(t, err)
	assert.Contains(t, headerKeys(t, header(ctx3)), "big")
	v, _ = baggagebridge.Get(hop(ctx3), "big")
	assert.Equal(t, "small", v)

	// Replacing a propagated value with one that does not fit removes the
	// stale one from the baggage.
	ctx4, err := baggagebridge.Set(ctx3, "big", big)
	require.ErrorIs(t, err, baggagebridge.ErrTooLarge)
	assert.NotContains(t, headerKeys(t, header(ctx4)), "big")
	v, _ = baggagebridge.Get(ctx4, "big")
	assert.Equal(t, big, v)

	// Delete removes a held value.
	ctx5 := baggagebridge.Delete(ctx4, "big")
	_, ok = baggagebridge.Get(ctx5, "big")
	assert.False(t, ok)

	// A value too large for any baggage is held.
	ctx6, err := baggagebridge.Set(context.Background(), "huge", strings.Repeat("y", 9000))
	require.ErrorIs(t, err, baggagebridge.ErrTooLarge)
	assert.Empty(t, header(ctx6))
	v, _ = baggagebridge.Get(ctx6, "huge")
	assert.Len(t, v, 9000)
}

func TestSetOversizedMembers(t *testing.T) {
	ctx := fill(t, context.Background(), "m", 64, 10)
	ctx, err := baggagebridge.Set(ctx, "zz", "65th")
	require.ErrorIs(t, err, baggagebridge.ErrTooLarge)
	keys := headerKeys(t, header(ctx))
	assert.Len(t, keys, 64)
	assert.NotContains(t, keys, "zz")
	v, ok := baggagebridge.Get(ctx, "zz")
	assert.True(t, ok)
	assert.Equal(t, "65th", v)

	// Room is made: a later Set of the held value propagates it.
	ctx = baggagebridge.Delete(ctx, "m000")
	ctx, err = baggagebridge.Set(ctx, "zz", "65th")
	require.NoError(t, err)
	assert.Contains(t, headerKeys(t, header(ctx)), "zz")
}

// TestSetOversizedDeterministic starts from a baggage over the limits made
// with the stock API, whose map order differs run to run: what Set keeps
// must not.
func TestSetOversizedDeterministic(t *testing.T) {
	build := func() context.Context {
		var bag baggage.Baggage
		for i := range 80 {
			m, err := baggage.NewMemberRaw(fmt.Sprintf("s%02d", i), strings.Repeat("v", 150))
			require.NoError(t, err)
			bag, err = bag.SetMember(m)
			require.NoError(t, err)
		}
		return baggage.ContextWithBaggage(context.Background(), bag)
	}
	var first []string
	for range 20 {
		ctx, err := baggagebridge.Set(build(), "new", "1")
		require.ErrorIs(t, err, baggagebridge.ErrTooLarge)
		keys := headerKeys(t, header(ctx))
		if first == nil {
			first = keys
		}
		require.Equal(t, first, keys)
		for i := range 80 {
			_, ok := baggagebridge.Get(ctx, fmt.Sprintf("s%02d", i))
			require.True(t, ok, "every value stays readable")
		}
		v, _ := baggagebridge.Get(ctx, "new")
		require.Equal(t, "1", v)
	}
	// Lowest keys first, then the new member, each kept if it still fits:
	// s00..s51 take 52 × 154 bytes and 51 commas, 8059 bytes; s52 would
	// take 8214; "new=1" takes 8065.
	want := []string{"new"}
	for i := range 52 {
		want = append(want, fmt.Sprintf("s%02d", i))
	}
	assert.Equal(t, want, first)
}
