// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/internal/w3cbaggage"
)

const redacted = "REDACTED"

// selection decides which baggage members enrich telemetry and how they
// appear there. It is immutable once built.
type selection struct {
	keys       map[string]bool // nil with no prefixes: every key
	exact      []string        // the keys, sorted, when no prefix is set
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
	var exact []string
	if len(c.keys) > 0 && len(c.prefixes) == 0 {
		exact = slices.Compact(slices.Sorted(slices.Values(c.keys)))
	}
	return selection{
		keys:       set(c.keys),
		exact:      exact,
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
	// values holds, for a selection of exact keys, each key's value, and
	// present whether the baggage had it: what the enrichment was computed
	// from, compared on every cache hit.
	values  []string
	present []bool
	// members holds, for a selection of every key or of prefixes, the
	// baggage's members: what the enrichment was computed from.
	members []keyValue
	attrs   []attribute.KeyValue
	logs    []slog.Attr
}

func (s *selection) enrich(bag baggage.Baggage, forLogs bool) *enrichment {
	return s.enrichMembers(bag.Members(), forLogs)
}

// enrichMembers is enrich of a baggage's members, which it reorders and
// overwrites.
func (s *selection) enrichMembers(members []baggage.Member, forLogs bool) *enrichment {
	return s.fill(newEnrichment(0, forLogs), members, forLogs)
}

// fill sets the attributes of e, made by newEnrichment, to those of a
// baggage of the given members, which it reorders and overwrites; it
// returns e.
func (s *selection) fill(e *enrichment, members []baggage.Member, forLogs bool) *enrichment {
	members = slices.DeleteFunc(members, func(m baggage.Member) bool { return !s.selects(m.Key()) })
	slices.SortFunc(members, w3cbaggage.ByKey)
	members = members[:min(len(members), s.max)]
	if len(members) == 0 {
		e.attrs, e.logs = nil, nil
		return e
	}
	if forLogs {
		e.logs = slices.Grow(e.logs[:0], len(members))[:len(members)]
	} else {
		e.attrs = slices.Grow(e.attrs[:0], len(members))[:len(members)]
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

// inlineMembers is the number of members up to which a baggage's
// enrichment is one allocation (see newEnrichment).
const inlineMembers = 4

// spanEnrichment and logEnrichment are an enrichment with room for the
// attributes and the members of a baggage of up to inlineMembers members.
type (
	spanEnrichment struct {
		enrichment
		attrs   [inlineMembers]attribute.KeyValue
		members [inlineMembers]keyValue
	}
	logEnrichment struct {
		enrichment
		logs    [inlineMembers]slog.Attr
		members [inlineMembers]keyValue
	}
)

// newEnrichment returns an empty enrichment for spans or, with forLogs,
// for log records, whose members has length n and whose attributes have
// room for as many, in one allocation when n is at most inlineMembers: an
// enrichment that a cache keeps is one object for the garbage collector
// to mark, not three.
func newEnrichment(n int, forLogs bool) *enrichment {
	switch {
	case n > inlineMembers:
		return &enrichment{members: make([]keyValue, n)}
	case forLogs:
		b := &logEnrichment{}
		b.enrichment.logs, b.enrichment.members = b.logs[:0], b.members[:n]
		return &b.enrichment
	}
	b := &spanEnrichment{}
	b.enrichment.attrs, b.enrichment.members = b.attrs[:0], b.members[:n]
	return &b.enrichment
}

// cacheBits sizes the enrichment cache: 256 slots of one entry each hold
// the baggages of that many requests in flight before they collide.
const cacheBits = 8

// maxCachedKeys bounds the exact keys of a selection whose enrichments are
// cached; a selection of more keys, or of prefixes, computes every time.
const maxCachedKeys = 16

// enricher computes enrichments of a baggage, for spans or for log records,
// and keeps the recent ones. Every span and log record of a request sees
// the same baggage, so a lookup is one map lookup per key and a compare of
// the values, with no allocation: keyed by the selected keys' values, or by
// the trace, and always checked against the baggage's content, never by the
// identity of OpenTelemetry's internal map.
type enricher struct {
	sel     selection
	forLogs bool
	seed    maphash.Seed
	slots   [1 << cacheBits]atomic.Pointer[enrichment]
}

// newEnricher returns an enricher of spans or, with forLogs, of log records.
func newEnricher(c config, forLogs bool) *enricher {
	return &enricher{sel: newSelection(c), forLogs: forLogs, seed: maphash.MakeSeed()}
}

// get returns the enrichment of bag, seen in trace tid (zero for none); nil
// for an empty baggage.
func (e *enricher) get(bag baggage.Baggage, tid trace.TraceID) *enrichment {
	if bag.Len() == 0 {
		return nil
	}
	keys := e.sel.exact
	if len(keys) == 0 || len(keys) > maxCachedKeys {
		return e.recent(bag, tid)
	}
	var vbuf [maxCachedKeys]string
	var pbuf [maxCachedKeys]bool
	values, present := vbuf[:len(keys)], pbuf[:len(keys)]
	var h uint64
	for i, k := range keys {
		if m := bag.Member(k); m.Key() != "" {
			values[i], present[i] = m.Value(), true
			h = h*0x100000001b3 ^ maphash.String(e.seed, values[i])
		} else {
			h = h*0x100000001b3 ^ 1
		}
	}
	slot := &e.slots[h>>(64-cacheBits)]
	if en := slot.Load(); en != nil && slices.Equal(en.values, values) && slices.Equal(en.present, present) {
		return en
	}
	en := e.sel.enrich(bag, e.forLogs)
	en.values, en.present = slices.Clone(values), slices.Clone(present)
	slot.Store(en)
	return en
}

// recent is get for a selection of every key or of prefixes, which must
// see every member: the spans and log records of one trace nearly always
// carry one baggage, so the last enrichment computed in trace tid is kept
// in a slot of that trace, and reused for any baggage that holds, member
// by member, exactly the members it was computed from: by the other spans
// of the trace, and by a trace of the same slot with the same baggage.
func (e *enricher) recent(bag baggage.Baggage, tid trace.TraceID) *enrichment {
	if !tid.IsValid() {
		return e.sel.enrich(bag, e.forLogs)
	}
	slot := &e.slots[maphash.Comparable(e.seed, tid)>>(64-cacheBits)]
	if en := slot.Load(); en != nil && sameMembers(en.members, bag) {
		return en
	}
	ms := bag.Members()
	en := newEnrichment(len(ms), e.forLogs)
	for i, m := range ms {
		en.members[i] = keyValue{m.Key(), m.Value()}
	}
	e.sel.fill(en, ms, e.forLogs)
	slot.Store(en)
	return en
}

// keyValue is a baggage member's key and value.
type keyValue struct{ key, value string }

// sameMembers reports whether bag has exactly the members of cached, whose
// keys are distinct.
func sameMembers(cached []keyValue, bag baggage.Baggage) bool {
	if len(cached) != bag.Len() {
		return false
	}
	for _, kv := range cached {
		if m := bag.Member(kv.key); m.Key() == "" || m.Value() != kv.value {
			return false
		}
	}
	return true
}
