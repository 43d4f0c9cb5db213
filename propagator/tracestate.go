// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// tracestate limits (https://www.w3.org/TR/trace-context-2/#tracestate-header).
const (
	maxTracestateMembers = 32
	maxTracestateKey     = 256
	maxTracestateValue   = 256
	// Entries longer than this are the first to go when a tracestate must be
	// truncated.
	longTracestateEntry = 128
)

type tsMember struct{ key, value string }

// parseTracestate parses the tracestate field values, combined as RFC 9110
// combines repeated fields: a comma-separated list in which empty elements
// and whitespace around elements are ignored. A list with an invalid member
// or more than 32 members is discarded whole (why is set); a later duplicate
// of a key is dropped and the list kept (dup is set), since the leftmost
// entry is the most recent position in the trace.
//
// canonical reports whether the members, joined by commas, equal vals[0]:
// then the caller can use vals[0] as it is.
func parseTracestate(vals []string, buf []tsMember) (ms []tsMember, canonical, dup bool, why reason) {
	ms = buf[:0]
	canonical = len(vals) == 1
	for _, v := range vals {
		for v != "" {
			elem, rest, found := strings.Cut(v, ",")
			if v = rest; found && v == "" {
				canonical = false // trailing comma
			}
			m := trimOWS(elem)
			if len(m) != len(elem) || m == "" {
				canonical = false
				if m == "" {
					continue
				}
			}
			eq := strings.IndexByte(m, '=')
			if eq < 0 || !validTracestateKey(m[:eq]) || !validTracestateValue(m[eq+1:]) {
				return nil, false, false, reasonTracestateMalformed
			}
			key, value := m[:eq], m[eq+1:]
			if hasKey(ms, key) {
				dup, canonical = true, false
				continue
			}
			if len(ms) == maxTracestateMembers {
				return nil, false, false, reasonTracestateTooManyMembers
			}
			ms = append(ms, tsMember{key, value})
		}
	}
	return ms, canonical, dup, 0
}

func hasKey(ms []tsMember, key string) bool {
	for _, m := range ms {
		if m.key == key {
			return true
		}
	}
	return false
}

// validTracestateKey implements the level 2 key grammar:
//
//	key     = ( lcalpha / DIGIT ) 0*255 ( keychar )
//	keychar = lcalpha / DIGIT / "_" / "-"/ "*" / "/" / "@"
func validTracestateKey(k string) bool {
	if k == "" || len(k) > maxTracestateKey || !isLowerAlnum(k[0]) {
		return false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !isLowerAlnum(c) && c != '_' && c != '-' && c != '*' && c != '/' && c != '@' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// validTracestateValue implements
//
//	value    = 0*255(chr) nblk-chr
//	nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
//	chr      = %x20 / nblk-chr
func validTracestateValue(v string) bool {
	if v == "" || len(v) > maxTracestateValue || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

// carriedState keeps the tracestate entries that trace.TraceState cannot
// hold, such as keys valid under the current key grammar (for example
// "foo@bar@baz" or "1vendor") that OTel Go still rejects, so that Inject can
// pass them on unchanged. It lives in the context beside the remote span
// context it was extracted with.
type carriedState struct {
	traceID trace.TraceID
	held    trace.TraceState // what the SpanContext was given
	list    string           // all entries, in order, joined by commas
}

type carriedKey struct{}

// smallTracestate is the size up to which inserting the members one by one
// into a trace.TraceState is cheaper than trace.ParseTraceState.
const smallTracestate = 4

// buildTraceState returns the TraceState for the parsed members, and the
// carried state when some of them do not fit in a TraceState. canonical, if
// not empty, is the members joined by commas.
func buildTraceState(ms []tsMember, canonical string, traceID trace.TraceID) (trace.TraceState, *carriedState) {
	if len(ms) > smallTracestate {
		if canonical == "" {
			canonical = joinTracestate(ms)
		}
		if ts, err := trace.ParseTraceState(canonical); err == nil {
			return ts, nil
		}
	}
	// Insert from the right, which keeps the order. Insert rejects the keys
	// that are valid here but not for trace.TraceState: keep the others and
	// carry the full list.
	var ts trace.TraceState
	all := true
	for i := len(ms) - 1; i >= 0; i-- {
		if next, err := ts.Insert(ms[i].key, ms[i].value); err == nil {
			ts = next
		} else {
			all = false
		}
	}
	if all {
		return ts, nil
	}
	if canonical == "" {
		canonical = joinTracestate(ms)
	}
	return ts, &carriedState{traceID: traceID, held: ts, list: canonical}
}

func joinTracestate(ms []tsMember) string {
	n := len(ms) - 1
	for _, m := range ms {
		n += len(m.key) + 1 + len(m.value)
	}
	var b strings.Builder
	b.Grow(n)
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.key)
		b.WriteByte('=')
		b.WriteString(m.value)
	}
	return b.String()
}

// contextWithCarried records c, which may be nil, in ctx. A nil c is only
// recorded to hide one left in ctx by an earlier Extract.
func contextWithCarried(ctx context.Context, c *carriedState) context.Context {
	if c == nil {
		if prev, _ := ctx.Value(carriedKey{}).(*carriedState); prev == nil {
			return ctx
		}
	}
	return context.WithValue(ctx, carriedKey{}, c)
}

// appendTracestate appends the tracestate to send with sc. When sc continues
// the trace an Extract in ctx carried entries for, those entries go out
// unchanged, after the entries this process added or modified, and minus the
// entries it deleted: the mutations the specification allows.
func appendTracestate(b []byte, ctx context.Context, sc trace.SpanContext) []byte {
	ts := sc.TraceState()
	c, _ := ctx.Value(carriedKey{}).(*carriedState)
	if c == nil || c.traceID != sc.TraceID() {
		return appendTraceState(b, ts)
	}
	if sameTraceState(ts, c.held) {
		return append(b, c.list...)
	}
	return appendChangedTracestate(b, ts, c)
}

// appendChangedTracestate appends tracestate ts, changed since the Extract
// that carried c, as appendTracestate describes. It is a function of its
// own so that the common cases above take little stack: Inject runs deep in
// a client's call stack.
func appendChangedTracestate(b []byte, ts trace.TraceState, c *carriedState) []byte {
	// Both lists hold at most 32 entries.
	var out [2 * maxTracestateMembers]tsMember
	ms := out[:0]
	// Entries added or modified here come first. Values are never empty, so
	// Get returning "" means absent.
	ts.Walk(func(k, v string) bool {
		if c.held.Get(k) != v {
			ms = append(ms, tsMember{k, v})
		}
		return true
	})
	// Then the extracted entries, in order, minus those modified (already
	// written) or deleted (held once, now gone).
	for rest := c.list; rest != ""; {
		var m string
		m, rest, _ = strings.Cut(rest, ",")
		k, v, _ := strings.Cut(m, "=")
		if c.held.Get(k) != "" && ts.Get(k) != v || hasKey(ms, k) {
			continue
		}
		ms = append(ms, tsMember{k, v})
	}
	return appendMembers(b, truncateTracestate(ms))
}

// truncateTracestate drops entries until at most 32 remain: first entries
// longer than 128 characters, then entries from the right, as the
// specification recommends.
func truncateTracestate(ms []tsMember) []tsMember {
	for len(ms) > maxTracestateMembers {
		long := -1
		for i := len(ms) - 1; i >= 0; i-- {
			if len(ms[i].key)+1+len(ms[i].value) > longTracestateEntry {
				long = i
				break
			}
		}
		if long < 0 {
			return ms[:maxTracestateMembers]
		}
		ms = append(ms[:long], ms[long+1:]...)
	}
	return ms
}

func sameTraceState(a, b trace.TraceState) bool {
	if a.Len() != b.Len() {
		return false
	}
	same := true
	var i int
	a.Walk(func(k, v string) bool {
		j := 0
		b.Walk(func(bk, bv string) bool {
			if j == i {
				same = k == bk && v == bv
				return false
			}
			j++
			return true
		})
		i++
		return same
	})
	return same
}

func appendTraceState(b []byte, ts trace.TraceState) []byte {
	first := true
	ts.Walk(func(k, v string) bool {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, v...)
		return true
	})
	return b
}

func appendMembers(b []byte, ms []tsMember) []byte {
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m.key...)
		b = append(b, '=')
		b = append(b, m.value...)
	}
	return b
}
