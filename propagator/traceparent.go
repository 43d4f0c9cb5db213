// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"encoding/hex"

	"go.opentelemetry.io/otel/trace"
)

// traceparent layout (https://www.w3.org/TR/trace-context-2/#traceparent-header):
//
//	version "-" trace-id "-" parent-id "-" trace-flags
//	2HEXDIGLC   32HEXDIGLC  16HEXDIGLC    2HEXDIGLC
const (
	traceparentLen = 55
	versionMax     = 0xfe // version ff is forbidden
	// knownFlags are the flags of Trace Context level 2: sampled and random.
	// Other bits are reserved; receivers ignore them and senders send zero.
	knownFlags = trace.FlagsSampled | trace.FlagsRandom
)

// parseTraceparent parses one traceparent value. Optional whitespace around
// it is ignored. Versions above 00 are parsed as the specification asks: the
// fields of version 00, followed by the end of the value or by "-" and
// fields this implementation does not know.
func parseTraceparent(v string) (trace.SpanContextConfig, bool) {
	var scc trace.SpanContextConfig
	v = trimOWS(v)
	if len(v) < traceparentLen || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return scc, false
	}
	ver, ok := hexByte(v[0], v[1])
	if !ok || ver > versionMax {
		return scc, false
	}
	if len(v) > traceparentLen && (ver == 0 || v[traceparentLen] != '-') {
		return scc, false
	}
	if !decodeHex(scc.TraceID[:], v[3:35]) || !decodeHex(scc.SpanID[:], v[36:52]) {
		return scc, false
	}
	flags, ok := hexByte(v[53], v[54])
	if !ok || !scc.TraceID.IsValid() || !scc.SpanID.IsValid() {
		return scc, false
	}
	scc.TraceFlags = trace.TraceFlags(flags) & knownFlags
	scc.Remote = true
	return scc, true
}

// appendTraceparent appends the version 00 traceparent of sc to b.
func appendTraceparent(b []byte, sc trace.SpanContext) []byte {
	b = append(b, '0', '0', '-')
	tid, sid := sc.TraceID(), sc.SpanID()
	b = hex.AppendEncode(b, tid[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, sid[:])
	b = append(b, '-')
	return hex.AppendEncode(b, []byte{byte(sc.TraceFlags() & knownFlags)})
}

// unhex maps lowercase hex digits to their value and everything else,
// including upper case, which traceparent forbids, to 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	return t
}()

func hexByte(hi, lo byte) (byte, bool) {
	h, l := unhex[hi], unhex[lo]
	return h<<4 | l, (h|l)&0xf0 == 0
}

// decodeHex decodes len(dst)*2 lowercase hex digits of s into dst.
func decodeHex(dst []byte, s string) bool {
	var bad byte
	for i := range dst {
		h, l := unhex[s[2*i]], unhex[s[2*i+1]]
		dst[i] = h<<4 | l
		bad |= h | l
	}
	return bad&0xf0 == 0
}

// trimOWS removes the optional whitespace of RFC 9110 (spaces and horizontal
// tabs) around s.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
