package baggagebridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"

	"github.com/otelctx/otelctx/internal/w3cbaggage"
)

const redacted = "REDACTED"

// selection decides which baggage members enrich telemetry and how they
// appear there. It is immutable once built.
type selection struct {
	keys       map[string]bool // nil with no prefixes: every key
	prefixes   []string
	attrPrefix string
	redacted   map[string]bool
	hashed     map[string]bool
	secret     []byte
	max        int
}

func newSelection(c config) selection {
	set := func(keys []string) map[string]bool {
		if len(keys) == 0 {
			return nil
		}
		m := make(map[string]bool, len(keys))
		for _, k := range keys {
			m[k] = true
		}
		return m
	}
	return selection{
		keys:       set(c.keys),
		prefixes:   slices.Clone(c.prefixes),
		attrPrefix: c.attrPrefix,
		redacted:   set(c.redacted),
		hashed:     set(c.hashed),
		secret:     c.secret,
		max:        c.maxAttrs,
	}
}

func (s *selection) selects(key string) bool {
	if s.keys == nil && s.prefixes == nil {
		return true
	}
	if s.keys[key] {
		return true
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// attr returns the attribute key and value for member key holding value.
func (s *selection) attr(key, value string) (string, string) {
	switch {
	case s.redacted[key]:
		value = redacted
	case s.hashed[key]:
		h := hmac.New(sha256.New, s.secret)
		h.Write([]byte(value))
		value = hex.EncodeToString(h.Sum(nil)[:16])
	}
	return s.attrPrefix + key, value
}

// enrichment is what one baggage adds to spans (attrs) or to log records
// (logs), computed once per distinct baggage.
type enrichment struct {
	// bag keeps the baggage's map alive, so that no other map can take its
	// address while the entry exists: the address is the entry's key.
	bag   baggage.Baggage
	attrs []attribute.KeyValue
	logs  []slog.Attr
}

func (s *selection) enrich(bag baggage.Baggage, forLogs bool) *enrichment {
	e := &enrichment{bag: bag}
	members := bag.Members()
	members = slices.DeleteFunc(members, func(m baggage.Member) bool { return !s.selects(m.Key()) })
	slices.SortFunc(members, w3cbaggage.ByKey)
	members = members[:min(len(members), s.max)]
	if len(members) == 0 {
		return e
	}
	if forLogs {
		e.logs = make([]slog.Attr, len(members))
	} else {
		e.attrs = make([]attribute.KeyValue, len(members))
	}
	for i, m := range members {
		k, v := s.attr(m.Key(), m.Value())
		if forLogs {
			e.logs[i] = slog.String(k, v)
		} else {
			e.attrs[i] = attribute.String(k, v)
		}
	}
	return e
}

// cacheBits sizes the enrichment cache: 256 slots of one entry each hold
// the baggages of that many requests in flight before they collide.
const cacheBits = 8

// enricher computes enrichments and keeps the recent ones. Every span and
// log record of a request carries the same baggage (the same map, shared by
// every context derived from the one it was put in), so after the first
// one, a lookup is an atomic load and a pointer compare: no lock, no
// allocation.
type enricher struct {
	sel     selection
	forLogs bool
	slots   [1 << cacheBits]atomic.Pointer[enrichment]
}

// newEnricher returns an enricher of spans or, with forLogs, of log records.
func newEnricher(c config, forLogs bool) *enricher {
	return &enricher{sel: newSelection(c), forLogs: forLogs}
}

// get returns the enrichment of bag; nil for an empty baggage.
func (e *enricher) get(bag baggage.Baggage) *enrichment {
	if bag.Len() == 0 {
		return nil
	}
	id := w3cbaggage.Identity(bag)
	if id == nil {
		return e.sel.enrich(bag, e.forLogs)
	}
	slot := &e.slots[uint64(uintptr(id))*0x9E3779B97F4A7C15>>(64-cacheBits)]
	if en := slot.Load(); en != nil && w3cbaggage.Identity(en.bag) == id {
		return en
	}
	en := e.sel.enrich(bag, e.forLogs)
	slot.Store(en)
	return en
}
