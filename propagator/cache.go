package propagator

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
	"unsafe"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/internal/w3cbaggage"
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
// hashes to it, so input that never repeats (or an attacker sending
// distinct headers) only costs the misses. Cached values are immutable:
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

// lookup returns the value cached for header.
func (c *headerCache[V]) lookup(header string) (V, bool) {
	if len(header) <= maxCachedHeader {
		if e := c.slot(header).Load(); e != nil && e.header == header {
			return e.value, true
		}
	}
	var zero V
	return zero, false
}

// store caches v as what header parses to.
func (c *headerCache[V]) store(header string, v V) {
	if len(header) <= maxCachedHeader {
		c.slot(header).Store(&headerEntry[V]{header: header, value: v})
	}
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

// parsedTracestate caches the trace.TraceState built from canonical
// tracestate values that it can hold whole.
var parsedTracestate = newHeaderCache[trace.TraceState]()

// encodedBaggage caches, per propagator, the baggage header Inject wrote for
// a baggage and a set of egress grants, with what it dropped.
type encodedBaggage struct {
	slots [cacheSlots]atomic.Pointer[encodedEntry]
}

type encodedEntry struct {
	// bag keeps the map alive, so that its address, its identity, cannot be
	// reused for another baggage while the entry exists.
	bag     baggage.Baggage
	grants  [maxGrants]*keySet
	ngrants int
	header  string
	dropped tally
}

func (c *encodedBaggage) slot(id unsafe.Pointer) *atomic.Pointer[encodedEntry] {
	// Fibonacci hashing of the address: maps are at least 8-byte aligned,
	// and consecutive allocations differ in their middle bits.
	h := uint64(uintptr(id)) * 0x9E3779B97F4A7C15
	return &c.slots[h>>(64-cacheBits)]
}

// lookup returns the cached entry for bag and grants, or nil.
func (c *encodedBaggage) lookup(id unsafe.Pointer, grants []*keySet) *encodedEntry {
	e := c.slot(id).Load()
	if e == nil || w3cbaggage.Identity(e.bag) != id || e.ngrants != len(grants) {
		return nil
	}
	for i, g := range grants {
		if e.grants[i] != g {
			return nil
		}
	}
	return e
}

// store caches header and dropped as the encoding of bag for grants.
func (c *encodedBaggage) store(id unsafe.Pointer, bag baggage.Baggage, grants []*keySet, header string, dropped tally) {
	if len(grants) > maxGrants || len(header) > maxCachedHeader {
		return
	}
	e := &encodedEntry{bag: bag, ngrants: len(grants), header: header, dropped: dropped}
	copy(e.grants[:], grants)
	c.slot(id).Store(e)
}
