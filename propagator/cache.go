// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// A service sees the same baggage and tracestate over and over: the same
// header on every request of a session or from a gateway, and one request's
// baggage on each of its outbound calls. Building an OpenTelemetry
// baggage.Baggage re-encodes every member, and encoding one for a header
// re-parses its properties, so the results are remembered in small caches
// that cost a hash and a compare on a hit and one allocation on a miss.
//
// The caches are direct-mapped, lock-free and bounded: a slot holds the
// latest result for one input and is overwritten by the next input that
// hashes to it. An input is kept only when it misses its slot twice in a
// row (the slot remembers the hash of the last miss), so input that never
// repeats (a request ID, or an attacker sending distinct headers) costs
// the misses alone: no copy of the header, no entry. Cached values are immutable:
// OpenTelemetry's Baggage and TraceState are never modified in place.

const (
	cacheBits  = 8
	cacheSlots = 1 << cacheBits // per cache
	// maxCachedHeader bounds the header values kept: longer ones are rare
	// and are parsed every time, so the caches hold at most about
	// cacheSlots × maxCachedHeader bytes of input each.
	maxCachedHeader = 1024
)

// headerCache maps a header value to what parsing it produced.
type headerCache[V any] struct {
	seed  maphash.Seed
	slots [cacheSlots]atomic.Pointer[headerEntry[V]]
	// missed holds, per slot, the hash of the last header that missed it.
	missed [cacheSlots]atomic.Uint64
}

type headerEntry[V any] struct {
	header string
	value  V
}

func newHeaderCache[V any]() *headerCache[V] {
	return &headerCache[V]{seed: maphash.MakeSeed()}
}

func (c *headerCache[V]) slot(header string) *atomic.Pointer[headerEntry[V]] {
	return &c.slots[maphash.String(c.seed, header)&(cacheSlots-1)]
}

// lookup returns the value cached for header. On a miss, keep reports
// whether header also missed the last time its slot was looked up, and so
// is worth storing (after detach).
func (c *headerCache[V]) lookup(header string) (v V, ok, keep bool) {
	if len(header) > maxCachedHeader {
		return v, false, false
	}
	h := maphash.String(c.seed, header)
	i := h & (cacheSlots - 1)
	if e := c.slots[i].Load(); e != nil && e.header == header {
		return e.value, true, false
	}
	if c.missed[i].Load() == h {
		return v, false, true
	}
	c.missed[i].Store(h)
	return v, false, false
}

// store caches v as what header parses to.
func (c *headerCache[V]) store(header string, v V) {
	if len(header) <= maxCachedHeader {
		c.slot(header).Store(&headerEntry[V]{header: header, value: v})
	}
}

// intern returns b as a string: the one kept if b was interned before,
// else a new one, kept if b missed its slot twice in a row. The values of
// a cache that interns are unused.
func (c *headerCache[V]) intern(b []byte) string {
	if len(b) == 0 || len(b) > maxCachedHeader {
		return string(b)
	}
	h := maphash.Bytes(c.seed, b)
	i := h & (cacheSlots - 1)
	if e := c.slots[i].Load(); e != nil && e.header == string(b) {
		return e.header
	}
	s := string(b)
	if c.missed[i].Load() == h {
		c.slots[i].Store(&headerEntry[V]{header: s})
	} else {
		c.missed[i].Store(h)
	}
	return s
}

// detach returns a copy of a carrier's header value about to be parsed for
// a cache, so that what the cache keeps, which outlives the request and
// shares memory with the value parsed, holds none of the request's memory.
func detach(header string) string {
	if len(header) > maxCachedHeader {
		return header
	}
	return strings.Clone(header)
}

// parsedBaggage caches baggage.Parse over canonical baggage header values,
// for every propagator: the result depends on the value alone.
var parsedBaggage = newHeaderCache[baggage.Baggage]()

// encodedBaggage interns the baggage header values written for a
// destination: a request's baggage goes out on each of its calls, and the
// same baggage on many requests, as the same bytes.
var encodedBaggage = newHeaderCache[struct{}]()

// parsedTracestate caches the trace.TraceState built from canonical
// tracestate values that it can hold whole.
var parsedTracestate = newHeaderCache[trace.TraceState]()

// parsedMembers caches what parsing canonical list-members gives, for every
// propagator.
var parsedMembers = newHeaderCache[*knownMember]()

// memberBases caches, for the known members of a header (parsedMembers), in
// order, the baggage of them alone: a header of known members and one new
// one, as a request's tenant and user with its new ID, is then that baggage
// and one SetMember, which encodes no member, where baggage.New encodes
// every member to check the size. Like the header caches it is
// direct-mapped and bounded, keeps a sequence that missed its slot twice
// in a row, and serves headers of at most maxCachedHeader bytes; its
// members are those parsedMembers kept, which hold no request's memory.
var memberBases baseCache

type baseCache struct {
	slots  [cacheSlots]atomic.Pointer[baseEntry]
	missed [cacheSlots]atomic.Uint64
}

type baseEntry struct {
	members []*knownMember
	bag     baggage.Baggage
}

func baseHash(ms []*knownMember) uint64 {
	h := uint64(len(ms))
	for _, m := range ms {
		h = (h ^ m.id) * 0x9e3779b97f4a7c15
	}
	return h
}

// lookup returns the baggage of the known members ms. On a miss, keep
// reports whether ms also missed the last time its slot was looked up.
func (c *baseCache) lookup(ms []*knownMember) (b baggage.Baggage, ok, keep bool) {
	h := baseHash(ms)
	i := h >> (64 - cacheBits)
	if e := c.slots[i].Load(); e != nil && slices.Equal(e.members, ms) {
		return e.bag, true, false
	}
	if c.missed[i].Load() == h {
		return b, false, true
	}
	c.missed[i].Store(h)
	return b, false, false
}

// store caches b as the baggage of the known members ms.
func (c *baseCache) store(ms []*knownMember, b baggage.Baggage) {
	c.slots[baseHash(ms)>>(64-cacheBits)].Store(&baseEntry{members: slices.Clone(ms), bag: b})
}
