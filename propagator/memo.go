// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"slices"
	"sync/atomic"

	"go.opentelemetry.io/otel/baggage"

	"github.com/otelctx/otelctx/internal/token"
	"github.com/otelctx/otelctx/internal/w3cbaggage"
)

// A request's baggage is written on each of its outbound calls, most often
// unchanged since Extract built it. Encoding a baggage.Baggage means asking
// OpenTelemetry for each member and its properties, percent-encoding every
// value and sorting the keys; the context Extract returns remembers that
// work (bagMemo), once, for the baggage its second outbound call sends (a
// request that sends its baggage once is cheaper encoding it directly).
// Inject uses it after checking that the context's baggage still holds
// exactly those members — the same keys, values and properties, as
// baggage.Member.String writes them — and encodes anything else member by
// member.

// extractedKey is the context key under which an extracted context answers
// with itself.
type extractedKey struct{}

// bagMemo is the encoding of every member of a baggage, sorted by key, as
// encodeBaggage writes it when nothing is withheld.
type bagMemo struct {
	text    string       // the members, joined by commas
	members []memoMember // sorted by key
	longest int          // the longest member in text
	// masks caches the grants of the last two destinations, a request
	// being sent to one or two kinds of host.
	masks [2]atomic.Pointer[grantMask]
	next  atomic.Uint32 // the slot of masks to replace
}

// memoMember is one member of a bagMemo, with what same compares.
type memoMember struct {
	key, value string
	// str is baggage.Member.String when the member has properties, the
	// cheapest public form that holds them; empty when it has none.
	str string
	end int // text[previous end+1 : end] is the member
}

// grantMask caches which members of a bagMemo a set of grants allows.
type grantMask struct {
	grants []*keySet
	mask   uint64
}

// memoMaxMembers is the most members a bagMemo holds: a grantMask has a
// bit for each.
const memoMaxMembers = 64

// newBagMemo encodes bag, or returns nil if a member cannot be written as it
// is (a key that is not a token) or there are too many.
func newBagMemo(bag baggage.Baggage) *bagMemo {
	ms := bag.Members()
	if len(ms) == 0 || len(ms) > memoMaxMembers {
		return nil
	}
	slices.SortFunc(ms, w3cbaggage.ByKey)
	m := &bagMemo{members: make([]memoMember, len(ms))}
	var b []byte
	for i, bm := range ms {
		if !token.Valid(bm.Key()) {
			return nil
		}
		if i > 0 {
			b = append(b, ',')
		}
		start := len(b)
		b = appendMember(b, bm)
		m.longest = max(m.longest, len(b)-start)
		mm := memoMember{key: bm.Key(), value: bm.Value(), end: len(b)}
		if len(bm.Properties()) > 0 {
			mm.str = bm.String()
		}
		m.members[i] = mm
	}
	m.text = string(b)
	return m
}

// same reports whether bag holds exactly the members m encodes.
func (m *bagMemo) same(bag baggage.Baggage) bool {
	if bag.Len() != len(m.members) {
		return false
	}
	for i := range m.members {
		mm := &m.members[i]
		bm := bag.Member(mm.key)
		if bm.Key() == "" || bm.Value() != mm.value {
			return false
		}
		if mm.str != "" {
			if bm.String() != mm.str {
				return false
			}
		} else if len(bm.Properties()) > 0 {
			return false
		}
	}
	return true
}

// segment returns the encoding of member i.
func (m *bagMemo) segment(i int) string {
	start := 0
	if i > 0 {
		start = m.members[i-1].end + 1
	}
	return m.text[start:m.members[i].end]
}

// granted returns the members grants allow, a bit each.
func (m *bagMemo) granted(grants []*keySet) uint64 {
	for i := range m.masks {
		if gm := m.masks[i].Load(); gm != nil && slices.Equal(gm.grants, grants) {
			return gm.mask
		}
	}
	var mask uint64
	for i := range m.members {
		if granted(grants, m.members[i].key) {
			mask |= 1 << i
		}
	}
	m.masks[m.next.Add(1)%2].Store(&grantMask{grants: slices.Clone(grants), mask: mask})
	return mask
}

// memoUse tells the two callers of memoOf apart: Inject, which does not
// know the destination, and baggageFor, which does. With NewTransport or
// otelctxgrpc, one outbound call makes one use of each.
type memoUse int

const (
	useInject memoUse = iota
	useDestination
)

// memoOf returns the memo the context Extract returned, ctx or one of its
// ancestors, keeps, if it holds bag, ctx's baggage.
func memoOf(ctx context.Context, bag baggage.Baggage, use memoUse) *bagMemo {
	e, _ := ctx.Value(extractedKey{}).(*extracted)
	if e == nil {
		return nil
	}
	m := e.memo(bag, use)
	if m == nil || !m.same(bag) {
		return nil
	}
	return m
}

// memo returns e's memo, made of bag on the second use of a kind; nil
// before.
func (e *extracted) memo(bag baggage.Baggage, use memoUse) *bagMemo {
	if m := e.memoized.Load(); m != nil {
		return m
	}
	if u := &e.uses[use]; u.Load() < 1 && u.Add(1) == 1 {
		return nil
	}
	m := newBagMemo(bag)
	if m == nil {
		m = &noMemo
	}
	// Two first uses may both build one: either does.
	e.memoized.CompareAndSwap(nil, m)
	return m
}

// noMemo is the memo of a baggage newBagMemo cannot encode: it holds no
// baggage but an empty one.
var noMemo bagMemo

// memoHeader returns the baggage header value for the members of m that
// grants allow, within the limits, and counts what it leaves out in t, as
// encodeBaggage does for the same baggage.
func (p *propagator) memoHeader(m *bagMemo, grants []*keySet, t *tally) string {
	mask := m.granted(grants)
	all := uint64(1)<<len(m.members) - 1
	if len(m.members) == memoMaxMembers {
		all = ^uint64(0)
	}
	if mask == all && len(m.members) <= p.cfg.maxMembers &&
		len(m.text) <= p.cfg.maxBytes && m.longest <= p.cfg.maxMemberBytes {
		return m.text
	}
	var stack [512]byte
	b := stack[:0]
	n, seen := 0, 0
	for i := range m.members {
		if mask&(1<<i) == 0 {
			continue
		}
		seen++
		mark := len(b)
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, m.segment(i)...)
		b, n = p.fit(b, 0, n, mark, t)
	}
	t.add(reasonEgressDenied, len(m.members)-seen)
	return encodedBaggage.intern(b)
}

// memoState is what an extracted context keeps for bagMemo.
type memoState struct {
	uses     [2]atomic.Int32 // by memoUse
	memoized atomic.Pointer[bagMemo]
}
