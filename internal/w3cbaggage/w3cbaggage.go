// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package w3cbaggage holds what the propagator and the bridge share about
// W3C Baggage: the limits, the size of an encoded value, and the order of
// members.
package w3cbaggage

import (
	"strings"

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

// ByKey orders members by key, the order in which both packages list them so
// that what a limit drops never depends on map order.
func ByKey(a, b baggage.Member) int { return strings.Compare(a.Key(), b.Key()) }
