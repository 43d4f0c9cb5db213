// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/baggage"

	"github.com/otelctx/otelctx/internal/token"
	"github.com/otelctx/otelctx/internal/w3cbaggage"
)

// parseBaggageMember splits one list-member of a baggage header
// (https://www.w3.org/TR/baggage/#definition), without the surrounding
// whitespace, and validates it:
//
//	list-member = key OWS "=" OWS value *( OWS ";" OWS property )
//	property    = key OWS "=" OWS value / key OWS
//
// The entry holds the key, the raw (still percent-encoded) value, the raw
// properties and the size of the member as Inject and baggage.Member.String
// encode it. canonical reports whether m is already written as
// appendCanonical writes it; utf8OK is false when a value, decoded, is not
// UTF-8.
func parseBaggageMember(m string) (e bagEntry, canonical, utf8OK, ok bool) {
	kv := m
	if i := strings.IndexByte(m, ';'); i >= 0 {
		kv, e.props = m[:i], m[i+1:]
	}
	eq := strings.IndexByte(kv, '=')
	if eq < 0 {
		return e, false, false, false
	}
	e.key, e.value = trimOWS(kv[:eq]), trimOWS(kv[eq+1:])
	if !token.Valid(e.key) {
		return e, false, false, false
	}
	vsize, utf8OK, ok := scanRawValue(e.value)
	if !ok {
		return e, false, false, false
	}
	e.size = len(e.key) + 1 + vsize
	// The canonical form only leaves out whitespace and empty properties, so
	// it equals m exactly when it is as long.
	n := len(e.key) + 1 + len(e.value)
	for rest := e.props; rest != ""; {
		var s string
		s, rest, _ = strings.Cut(rest, ";")
		p, ok := parseProperty(s)
		if !ok {
			return e, false, false, false
		}
		if p.key == "" {
			continue
		}
		n += 1 + len(p.key)
		e.size += 1 + len(p.key)
		if p.hasValue {
			n += 1 + len(p.raw)
			e.size += 1 + p.size
			utf8OK = utf8OK && p.utf8OK
		}
	}
	return e, n == len(m), utf8OK, true
}

// property is a parsed property; an empty one (key == "") is ignored.
type property struct {
	key, raw string // raw is the value, still percent-encoded
	hasValue bool
	size     int // of the value, decoded and encoded again
	utf8OK   bool
}

func parseProperty(s string) (p property, ok bool) {
	s = trimOWS(s)
	if s == "" {
		return p, true
	}
	p.key = s
	if i := strings.IndexByte(s, '='); i >= 0 {
		p.key, p.raw, p.hasValue = trimOWS(s[:i]), trimOWS(s[i+1:]), true
		if p.size, p.utf8OK, ok = scanRawValue(p.raw); !ok {
			return p, false
		}
	}
	return p, token.Valid(p.key)
}

// scanRawValue validates a raw value, baggage-octets with well-formed
// percent-encoding, and returns the size of its decoded form, made valid
// UTF-8, as valueEscape encodes it again. It does not allocate for values up
// to 256 bytes.
func scanRawValue(raw string) (size int, utf8OK, ok bool) {
	escaped := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !w3cbaggage.IsValueOctet(c) {
			return 0, false, false
		}
		if c == '%' {
			if i+2 >= len(raw) {
				return 0, false, false
			}
			if _, ok := hexByteAny(raw[i+1], raw[i+2]); !ok {
				return 0, false, false
			}
			i += 2
			escaped = true
		}
	}
	if !escaped {
		return len(raw), true, true // baggage-octets need no encoding but "%"
	}
	var buf [256]byte
	d := appendDecoded(buf[:0], raw)
	utf8OK = true
	for len(d) > 0 {
		r, n := utf8.DecodeRune(d)
		switch {
		case r == utf8.RuneError && n == 1:
			size += 3 * len(string(utf8.RuneError)) // replaced, then encoded
			utf8OK = false
		case n == 1 && w3cbaggage.IsValueOctet(d[0]) && d[0] != '%':
			size++
		default:
			size += 3 * n
		}
		d = d[n:]
	}
	return size, utf8OK, true
}

// appendDecoded appends raw, validated by scanRawValue, percent-decoded.
func appendDecoded(b []byte, raw string) []byte {
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' {
			d, _ := hexByteAny(raw[i+1], raw[i+2])
			b = append(b, d)
			i += 2
			continue
		}
		b = append(b, raw[i])
	}
	return b
}

// decodeValue percent-decodes a raw value validated by scanRawValue. Each
// byte that is not part of valid UTF-8 becomes U+FFFD, as baggage.Parse does.
// It allocates only when raw holds a percent sign.
func decodeValue(raw string) string {
	if strings.IndexByte(raw, '%') < 0 {
		return raw
	}
	var buf [256]byte
	d := appendDecoded(buf[:0], raw)
	if utf8.Valid(d) {
		return string(d)
	}
	var b strings.Builder
	b.Grow(len(d) + 8)
	for len(d) > 0 {
		r, size := utf8.DecodeRune(d)
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.Write(d[:size])
		}
		d = d[size:]
	}
	return b.String()
}

// maxInlineProps is how many properties a member can have before building it
// allocates for them.
const maxInlineProps = 4

// makeMember builds the baggage member for a list-member split by
// parseBaggageMember.
func makeMember(key, rawValue, props string) baggage.Member {
	var inline [maxInlineProps]baggage.Property
	ps := inline[:0]
	for rest := props; rest != ""; {
		var s string
		s, rest, _ = strings.Cut(rest, ";")
		p, _ := parseProperty(s)
		if p.key == "" {
			continue
		}
		var prop baggage.Property
		if p.hasValue {
			prop, _ = baggage.NewKeyValuePropertyRaw(p.key, decodeValue(p.raw))
		} else {
			prop, _ = baggage.NewKeyProperty(p.key)
		}
		ps = append(ps, prop)
	}
	// Key and values are valid: NewMemberRaw only checks they are UTF-8.
	m, _ := baggage.NewMemberRaw(key, decodeValue(rawValue), ps...)
	return m
}

// appendCanonical appends a parsed list-member without optional whitespace
// and empty properties.
func appendCanonical(b []byte, key, rawValue, props string) []byte {
	b = append(b, key...)
	b = append(b, '=')
	b = append(b, rawValue...)
	for rest := props; rest != ""; {
		var s string
		s, rest, _ = strings.Cut(rest, ";")
		p, _ := parseProperty(s)
		if p.key == "" {
			continue
		}
		b = append(b, ';')
		b = append(b, p.key...)
		if p.hasValue {
			b = append(b, '=')
			b = append(b, p.raw...)
		}
	}
	return b
}

func hexByteAny(hi, lo byte) (byte, bool) {
	h, l := unhexAny(hi), unhexAny(lo)
	return h<<4 | l, (h|l)&0xf0 == 0
}

func unhexAny(c byte) byte {
	if 'A' <= c && c <= 'F' {
		return c - 'A' + 10
	}
	return unhex[c]
}

// verbatimOctets marks the bytes appendValue copies as they are: the
// baggage-octets but "%".
var verbatimOctets = func() (t [256]bool) {
	for c := range t {
		t[c] = w3cbaggage.IsValueOctet(byte(c)) && c != '%'
	}
	return t
}()

// appendValue appends v percent-encoded: every byte that is not a
// baggage-octet, and the percent sign itself. Runs that need no encoding are
// copied whole.
func appendValue(b []byte, v string) []byte {
	const upper = "0123456789ABCDEF"
	for {
		i := 0
		for i < len(v) && verbatimOctets[v[i]] {
			i++
		}
		b = append(b, v[:i]...)
		if i == len(v) {
			return b
		}
		c := v[i]
		b = append(b, '%', upper[c>>4], upper[c&0x0f])
		v = v[i+1:]
	}
}

// appendMember appends m as a list-member. Properties with keys that are not
// tokens are left out, as baggage.Member.String does.
func appendMember(b []byte, m baggage.Member) []byte {
	b = append(b, m.Key()...)
	b = append(b, '=')
	b = appendValue(b, m.Value())
	for _, p := range m.Properties() {
		if !token.Valid(p.Key()) {
			continue
		}
		b = append(b, ';')
		b = append(b, p.Key()...)
		if v, ok := p.Value(); ok {
			b = append(b, '=')
			b = appendValue(b, v)
		}
	}
	return b
}
