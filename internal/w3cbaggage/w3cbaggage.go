// Package w3cbaggage holds what the propagator and the bridge share about
// W3C Baggage and OpenTelemetry's baggage.Baggage: the limits, the size of an
// encoded value, and the identity of a baggage.
package w3cbaggage

import (
	"reflect"
	"strings"
	"unsafe"

	"go.opentelemetry.io/otel/baggage"
)

// W3C Baggage limits (https://www.w3.org/TR/baggage/#limits): what every
// platform must propagate at least. OpenTelemetry's baggage.Parse and
// baggage.New truncate, in map order, what exceeds them.
const (
	MaxMembers = 64
	MaxBytes   = 8192
)

// valueOctets marks baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B /
// %x5D-7E.
var valueOctets = func() (t [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		t[c] = c != '"' && c != ',' && c != ';' && c != '\\'
	}
	return t
}()

// IsValueOctet reports whether c may appear in a baggage value as it is.
func IsValueOctet(c byte) bool { return valueOctets[c] }

// ValueSize returns the length of v percent-encoded as OpenTelemetry encodes
// it: every byte that is not a baggage-octet, and '%', takes three.
func ValueSize(v string) int {
	n := len(v)
	for i := 0; i < len(v); i++ {
		if c := v[i]; !valueOctets[c] || c == '%' {
			n += 2
		}
	}
	return n
}

// identityOK reports whether baggage.Baggage is, as in otel v1.47.0, a
// struct holding one map and nothing else, that copies share and every
// change replaces, so that Identity can read the map's address. If a release
// changes that, Identity returns nil and its callers compute every time:
// slower, never wrong.
var identityOK = func() bool {
	t := reflect.TypeFor[baggage.Baggage]()
	if t.Kind() != reflect.Struct || t.NumField() != 1 || t.Field(0).Type.Kind() != reflect.Map ||
		t.Size() != unsafe.Sizeof(unsafe.Pointer(nil)) {
		return false
	}
	m, err := baggage.NewMemberRaw("k", "v")
	if err != nil {
		return false
	}
	a, err := baggage.New(m)
	if err != nil {
		return false
	}
	b := a
	c, err := a.SetMember(m)
	if err != nil {
		return false
	}
	ptr := func(b baggage.Baggage) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&b)) }
	return ptr(a) != nil && ptr(a) == ptr(b) && ptr(c) != ptr(a) && ptr(baggage.Baggage{}) == nil
}()

// Identity returns the address of bag's map, which all copies of bag share
// and no other live baggage has, so a cache holding bag can key on it; nil
// for an empty baggage or if it cannot be read.
func Identity(bag baggage.Baggage) unsafe.Pointer {
	if !identityOK {
		return nil
	}
	return *(*unsafe.Pointer)(unsafe.Pointer(&bag))
}

// ByKey orders members by key, the order in which both packages list them so
// that what a limit drops never depends on map order.
func ByKey(a, b baggage.Member) int { return strings.Compare(a.Key(), b.Key()) }
