// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"context"
	"errors"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/otel/baggage"

	"github.com/otelctx/otelctx/baggagebridge"
)

// FuzzSet checks Set's contract on any input: an invalid key or value is an
// error and changes nothing; whatever Set accepts reads back the same here
// and, through the stock W3C propagator, in the next service, properties
// included; a value too large to propagate is still readable here.
func FuzzSet(f *testing.F) {
	f.Add("user.id", "42", "", "")
	f.Add("k", "a,b;c=d %20 é", "p", "v;=,")
	f.Add("clé", "v", "", "")
	f.Add("k", "\xff", "", "")
	f.Add("k", "v", "pé", "x")
	f.Add("!#$%&'*+-.^_`|~", "", "flag", "")
	f.Fuzz(func(t *testing.T, key, value, pkey, pval string) {
		var props []baggage.Property
		if pkey != "" {
			p, err := baggage.NewKeyValuePropertyRaw(pkey, pval)
			if err != nil {
				t.Skip() // stock rejected it: not an input Set can be given
			}
			props = append(props, p)
		}
		base, err := baggagebridge.Set(context.Background(), "base", "1")
		if err != nil {
			t.Fatal(err)
		}
		ctx, err := baggagebridge.Set(base, key, value, props...)
		switch {
		case errors.Is(err, baggagebridge.ErrInvalidKey) || errors.Is(err, baggagebridge.ErrInvalidValue):
			if ctx != base {
				t.Fatal("ctx changed on error")
			}
			if validToken(key) && utf8.ValidString(value) && (pkey == "" || validToken(pkey)) {
				t.Fatalf("valid input rejected: %v", err)
			}
			return
		case errors.Is(err, baggagebridge.ErrTooLarge):
			if v, ok := baggagebridge.Get(ctx, key); !ok || v != value {
				t.Fatalf("held value lost: %q %v", v, ok)
			}
			return
		case err != nil:
			t.Fatalf("unexpected error: %v", err)
		}
		if !validToken(key) || !utf8.ValidString(value) {
			t.Fatalf("invalid input accepted: %q=%q", key, value)
		}
		for name, ctx := range map[string]context.Context{"here": ctx, "next hop": hop(ctx)} {
			if v, ok := baggagebridge.Get(ctx, key); !ok || v != value {
				t.Fatalf("%s: got %q %v, want %q", name, v, ok, value)
			}
			got := baggage.FromContext(ctx).Member(key).Properties()
			if len(got) != len(props) {
				t.Fatalf("%s: properties %v, want %v", name, got, props)
			}
			for i := range got {
				gv, gok := got[i].Value()
				wv, wok := props[i].Value()
				if got[i].Key() != props[i].Key() || gv != wv || gok != wok {
					t.Fatalf("%s: property %v, want %v", name, got[i], props[i])
				}
			}
		}
	})
}

// validToken is RFC 7230's token, written independently of the package's.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case r < 128 && containsByte("!#$%&'*+-.^_`|~", byte(r)):
		default:
			return false
		}
	}
	return true
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
