// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"math/rand/v2"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/baggage"

	"github.com/otelctx/otelctx/internal/w3cbaggage"
)

// inlineMembers is how many baggage members Extract and Inject handle
// without allocating for the list itself.
const inlineMembers = 16

// source says where a baggage member Extract handles comes from.
type source uint8

const (
	fromHeader source = iota // the baggage field of the carrier
	fromLegacy               // a header mapped by WithLegacyHeader
	fromLocal                // the context passed to Extract
)

// bagEntry is a member on its way into the extracted baggage.
type bagEntry struct {
	key   string
	value string // fromHeader: raw, percent-encoded; fromLegacy: verbatim
	props string // fromHeader: raw properties
	size  int    // encoded size
	local int    // fromLocal: index in bagBuilder.localMembers
	src   source
	// fromHeader: known is the member as parsed before, if it was kept;
	// else keep says to keep it (its text missed parsedMembers twice).
	known *knownMember
	keep  bool
}

// bagBuilder accumulates the members of the baggage Extract returns, in a
// deterministic order: local members sorted by key, then the carrier's in the
// order they arrived. It enforces the limits as members arrive, so what is
// dropped never depends on map iteration order.
//
// The first members live in an array inside the builder, so that a builder
// declared in a function stays on its stack.
type bagBuilder struct {
	cfg          *config
	localMembers []baggage.Member
	inline       [inlineMembers]bagEntry
	extra        []bagEntry
	n            int
	index        map[string]int // built once members outgrow a linear scan
	total        int            // encoded size, commas included
	locals       int
	remote       int // members taken from the carrier
}

func (bb *bagBuilder) at(i int) *bagEntry {
	if i < inlineMembers {
		return &bb.inline[i]
	}
	return &bb.extra[i-inlineMembers]
}

func (bb *bagBuilder) find(key string) int {
	if bb.index != nil {
		if i, ok := bb.index[key]; ok {
			return i
		}
		return -1
	}
	for i := 0; i < bb.n; i++ {
		if bb.inline[i].key == key {
			return i
		}
	}
	return -1
}

func (bb *bagBuilder) appendNew(e bagEntry) {
	if bb.n > 0 {
		bb.total++
	}
	bb.total += e.size
	if bb.n < inlineMembers {
		bb.inline[bb.n] = e
	} else {
		bb.extra = append(bb.extra, e)
	}
	bb.n++
	switch {
	case bb.index != nil:
		bb.index[e.key] = bb.n - 1
	case bb.n == inlineMembers:
		bb.index = make(map[string]int, 2*inlineMembers)
		for i := 0; i < bb.n; i++ {
			bb.index[bb.inline[i].key] = i
		}
	}
}

// addLocal adds the members of the baggage already in the context, sorted by
// key. Extract never drops them.
func (bb *bagBuilder) addLocal(b baggage.Baggage) {
	bb.localMembers = b.Members()
	slices.SortFunc(bb.localMembers, w3cbaggage.ByKey)
	for i, m := range bb.localMembers {
		bb.appendNew(bagEntry{key: m.Key(), size: len(m.String()), local: i, src: fromLocal})
		bb.locals++
	}
}

// add adds e, a member from the carrier, unless the merge policy keeps the
// member already there (a local one, or a header one for a legacy e) or a
// limit stops it; why then says which limit. A member replacing an earlier one of the same key keeps its position:
// the last one wins, as in baggage.Parse, except that the baggage header wins
// over a legacy header.
func (bb *bagBuilder) add(e bagEntry) (replaced bool, why reason) {
	if e.size > bb.cfg.maxMemberBytes {
		return false, reasonIngressLimitMemberBytes
	}
	if i := bb.find(e.key); i >= 0 {
		old := bb.at(i)
		if old.src == fromLocal && bb.cfg.merge == MergeLocalWins || old.src == fromHeader && e.src == fromLegacy {
			return false, 0
		}
		if bb.total-old.size+e.size > bb.cfg.maxBytes {
			return false, reasonIngressLimitBytes
		}
		if old.src == fromLocal {
			bb.locals--
		}
		bb.total += e.size - old.size
		*old = e
		bb.remote++
		return true, 0
	}
	if bb.n >= bb.cfg.maxMembers {
		return false, reasonIngressLimitMembers
	}
	n := bb.total + e.size
	if bb.n > 0 {
		n++
	}
	if n > bb.cfg.maxBytes {
		return false, reasonIngressLimitBytes
	}
	bb.appendNew(e)
	bb.remote++
	return false, 0
}

// build returns the accumulated baggage. verbatim, if not empty, is a header
// value that holds exactly the accumulated members, in canonical form.
func (bb *bagBuilder) build(verbatim string) baggage.Baggage {
	// Within the W3C limits, the baggage is what baggage.Parse makes of the
	// canonical header value (which keeps properties as the text they
	// arrived as), built from members parsed one by one, most of them
	// known (fromMembers). Bigger baggage, allowed by WithMaxMembers and
	// WithMaxBytes, is built with SetMember.
	if bb.locals == 0 && bb.n <= w3cbaggage.MaxMembers {
		s := verbatim
		if s == "" {
			s = bb.canonical()
		}
		b, ok, keep := parsedBaggage.lookup(s)
		if ok {
			return b
		}
		if keep && s == verbatim {
			s = detach(s)
		}
		if len(s) <= w3cbaggage.MaxBytes {
			if b, err := bb.fromMembers(s); err == nil && b.Len() == bb.n {
				if keep {
					parsedBaggage.store(s, b)
				}
				return b
			}
		}
	}
	// Give baggage.New only a prefix that fits its limits, and add the rest
	// one by one.
	var inline [inlineMembers]baggage.Member
	ms := inline[:0]
	n, total := 0, 0
	for ; n < bb.n && n < w3cbaggage.MaxMembers; n++ {
		e := bb.at(n)
		t := total + e.size
		if n > 0 {
			t++
		}
		if t > w3cbaggage.MaxBytes {
			break
		}
		total = t
		ms = append(ms, bb.member(e))
	}
	b, _ := baggage.New(ms...)
	for i := n; i < bb.n; i++ {
		b, _ = b.SetMember(bb.member(bb.at(i)))
	}
	return b
}

// fromMembers returns the baggage baggage.Parse makes of s, the canonical
// header value of the carrier members, built with baggage.New from members
// parsed one by one: a member seen before, as a request's tenant or user is
// on every request while its ID is new, is not parsed again
// (parsedMembers).
func (bb *bagBuilder) fromMembers(s string) (baggage.Baggage, error) {
	var inline [inlineMembers]baggage.Member
	ms := inline[:0]
	// The known members, in order, and the last member parsed here.
	var kbuf [inlineMembers]*knownMember
	known := kbuf[:0]
	var parsed baggage.Member
	parsedProps := false // a member with properties parsed alone
	rest := s
	for i := 0; i < bb.n; i++ {
		var seg string
		seg, rest, _ = strings.Cut(rest, ",")
		e := bb.at(i)
		if e.known != nil {
			ms = append(ms, e.known.member)
			known = append(known, e.known)
			continue
		}
		props := e.props != ""
		if props && parsedProps {
			// Parsing members with properties one by one costs more than
			// parsing them all at once.
			return baggage.Parse(s)
		}
		parsedProps = parsedProps || props
		if e.keep {
			seg = detach(seg)
		}
		m := parseMember(seg)
		if m.Key() == "" {
			return baggage.Parse(s)
		}
		if e.keep {
			keepMember(seg, m)
		}
		ms = append(ms, m)
		parsed = m
	}
	// The members bb holds have distinct keys: the baggage of the known
	// ones and one SetMember make what baggage.New makes of them all.
	if fresh := bb.n - len(known); fresh <= 1 && len(known) > 0 && len(s) <= maxCachedHeader {
		base, ok, keep := memberBases.lookup(known)
		if !ok && keep {
			kms := make([]baggage.Member, len(known))
			for i, km := range known {
				kms[i] = km.member
			}
			if b, err := baggage.New(kms...); err == nil && b.Len() == len(known) {
				memberBases.store(known, b)
				base, ok = b, true
			}
		}
		if ok {
			if fresh == 0 {
				return base, nil
			}
			return base.SetMember(parsed)
		}
	}
	return baggage.New(ms...)
}

// knownMember is a canonical list-member parsedMembers keeps: what
// parseBaggageMember and parseMember make of it.
type knownMember struct {
	member baggage.Member
	entry  bagEntry
	utf8OK bool
	id     uint64 // random: what memberBases hashes
}

// keepMember keeps m, parsed from seg, a canonical list-member that holds
// no request's memory (detach), in parsedMembers.
func keepMember(seg string, m baggage.Member) {
	e, canonical, utf8OK, ok := parseBaggageMember(seg)
	if ok && canonical {
		parsedMembers.store(seg, &knownMember{member: m, entry: e, utf8OK: utf8OK, id: rand.Uint64()})
	}
}

// parseMember returns the member baggage.Parse makes of a canonical
// list-member: for one with properties, what it parses; else the member of
// its decoded value. The zero Member if the member is not valid.
func parseMember(seg string) baggage.Member {
	if strings.IndexByte(seg, ';') >= 0 {
		b, err := baggage.Parse(seg)
		if err != nil || b.Len() != 1 {
			return baggage.Member{}
		}
		return b.Members()[0]
	}
	key, raw, _ := strings.Cut(seg, "=")
	m, _ := baggage.NewMemberRaw(key, decodeValue(raw))
	return m
}

func (bb *bagBuilder) member(e *bagEntry) baggage.Member {
	switch e.src {
	case fromLocal:
		return bb.localMembers[e.local]
	case fromLegacy:
		m, _ := baggage.NewMemberRaw(e.key, e.value)
		return m
	}
	return makeMember(e.key, e.value, e.props)
}

// canonical returns the carrier members as one header value.
func (bb *bagBuilder) canonical() string {
	b := make([]byte, 0, bb.total+bb.n)
	for i := 0; i < bb.n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		e := bb.at(i)
		if e.src == fromLegacy {
			b = append(b, e.key...)
			b = append(b, '=')
			b = appendValue(b, e.value)
			continue
		}
		b = appendCanonical(b, e.key, e.value, e.props)
	}
	return string(b)
}
