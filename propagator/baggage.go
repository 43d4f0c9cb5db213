package propagator

import (
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/baggage"
)

// parseBaggageMember splits one list-member of a baggage header
// (https://www.w3.org/TR/baggage/#definition), without the surrounding
// whitespace, and validates it:
//
//	list-member = key OWS "=" OWS value *( OWS ";" OWS property )
//	property    = key OWS "=" OWS value / key OWS
//
// It returns the key, the raw (still percent-encoded) value and the raw
// properties. canonical reports whether m is already written as
// appendCanonical writes it.
func parseBaggageMember(m string) (key, rawValue, props string, canonical, ok bool) {
	kv := m
	if i := strings.IndexByte(m, ';'); i >= 0 {
		kv, props = m[:i], m[i+1:]
	}
	eq := strings.IndexByte(kv, '=')
	if eq < 0 {
		return "", "", "", false, false
	}
	key, rawValue = trimOWS(kv[:eq]), trimOWS(kv[eq+1:])
	if !validToken(key) || !validRawValue(rawValue) {
		return "", "", "", false, false
	}
	// The canonical form only leaves out whitespace and empty properties, so
	// it equals m exactly when it is as long.
	n := len(key) + 1 + len(rawValue)
	for rest := props; rest != ""; {
		var p string
		p, rest = cutByte(rest, ';')
		pk, pv, hasValue, ok := parseProperty(p)
		if !ok {
			return "", "", "", false, false
		}
		if pk != "" {
			n += 1 + len(pk)
			if hasValue {
				n += 1 + len(pv)
			}
		}
	}
	return key, rawValue, props, n == len(m), true
}

// parseProperty parses one property; an empty one (pk == "") is ignored.
func parseProperty(p string) (pk, rawValue string, hasValue, ok bool) {
	p = trimOWS(p)
	if p == "" {
		return "", "", false, true
	}
	pk = p
	if i := strings.IndexByte(p, '='); i >= 0 {
		pk, rawValue, hasValue = trimOWS(p[:i]), trimOWS(p[i+1:]), true
		if !validRawValue(rawValue) {
			return "", "", false, false
		}
	}
	return pk, rawValue, hasValue, validToken(pk)
}

// cutByte is strings.Cut for a single byte, without the found result.
func cutByte(s string, sep byte) (before, after string) {
	if i := strings.IndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// validRawValue reports whether raw is baggage-octets with well-formed
// percent-encoding.
func validRawValue(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !isValueChar(c) {
			return false
		}
		if c == '%' {
			if i+2 >= len(raw) {
				return false
			}
			if _, ok := hexByteAny(raw[i+1], raw[i+2]); !ok {
				return false
			}
			i += 2
		}
	}
	return true
}

// memberSize returns the size of a parsed list-member as Inject and
// baggage.Member.String encode it: decoded, then percent-encoded again.
// utf8OK is false when a value is not UTF-8 once decoded.
func memberSize(key, rawValue, props string) (size int, utf8OK bool) {
	size, utf8OK = rawValueSize(rawValue)
	size += len(key) + 1
	for rest := props; rest != ""; {
		var p string
		p, rest = cutByte(rest, ';')
		pk, pv, hasValue, _ := parseProperty(p)
		if pk == "" {
			continue
		}
		size += 1 + len(pk)
		if hasValue {
			n, ok := rawValueSize(pv)
			size += 1 + n
			utf8OK = utf8OK && ok
		}
	}
	return size, utf8OK
}

// rawValueSize returns the size of a raw value once decoded, made valid
// UTF-8 and encoded again, without allocating for values up to 256 bytes.
func rawValueSize(raw string) (int, bool) {
	if strings.IndexByte(raw, '%') < 0 {
		return len(raw), true // baggage-octets need no encoding but "%"
	}
	var buf [256]byte
	d := appendDecoded(buf[:0], raw)
	n, ok := 0, true
	for len(d) > 0 {
		r, size := utf8.DecodeRune(d)
		switch {
		case r == utf8.RuneError && size == 1:
			n += 3 * len(string(utf8.RuneError)) // replaced, then encoded
			ok = false
		case size == 1 && isValueChar(d[0]) && d[0] != '%':
			n++
		default:
			n += 3 * size
		}
		d = d[size:]
	}
	return n, ok
}

// appendDecoded appends raw, validated by validRawValue, percent-decoded.
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

// decodeValue percent-decodes a raw value validated by validRawValue. Each
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
		var p string
		p, rest = cutByte(rest, ';')
		pk, pv, hasValue, _ := parseProperty(p)
		if pk == "" {
			continue
		}
		var prop baggage.Property
		if hasValue {
			prop, _ = baggage.NewKeyValuePropertyRaw(pk, decodeValue(pv))
		} else {
			prop, _ = baggage.NewKeyProperty(pk)
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
		var p string
		p, rest = cutByte(rest, ';')
		pk, pv, hasValue, _ := parseProperty(p)
		if pk == "" {
			continue
		}
		b = append(b, ';')
		b = append(b, pk...)
		if hasValue {
			b = append(b, '=')
			b = append(b, pv...)
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

// valueSize is the length of v as valueEscape encodes it.
func valueSize(v string) int {
	n := len(v)
	for i := 0; i < len(v); i++ {
		if c := v[i]; !isValueChar(c) || c == '%' {
			n += 2
		}
	}
	return n
}

// appendValue appends v percent-encoded: every byte that is not a
// baggage-octet, and the percent sign itself.
func appendValue(b []byte, v string) []byte {
	const upper = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if isValueChar(c) && c != '%' {
			b = append(b, c)
		} else {
			b = append(b, '%', upper[c>>4], upper[c&0x0f])
		}
	}
	return b
}

// appendMember appends m as a list-member. Properties with keys that are not
// tokens are left out, as baggage.Member.String does.
func appendMember(b []byte, m baggage.Member) []byte {
	b = append(b, m.Key()...)
	b = append(b, '=')
	b = appendValue(b, m.Value())
	for _, p := range m.Properties() {
		if !validToken(p.Key()) {
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

// baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
func isValueChar(c byte) bool {
	return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\'
}

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
// "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA (RFC 9110, section 5.6.2)
var tokenChars = func() (t [256]bool) {
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	return t
}()

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars[s[i]] {
			return false
		}
	}
	return true
}
