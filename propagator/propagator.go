// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/internal/envcheck"
	"github.com/otelctx/otelctx/internal/token"
	"github.com/otelctx/otelctx/internal/w3cbaggage"
)

// Header names, in lower case as the specifications ask senders to use, and
// in the canonical form net/http stores them in.
const (
	traceparentHeader = "traceparent"
	tracestateHeader  = "tracestate"
	baggageHeader     = "baggage"

	traceparentCanon = "Traceparent"
	tracestateCanon  = "Tracestate"
	baggageCanon     = "Baggage"
)

// propagator is the TextMapPropagator New returns. It is safe for concurrent
// use and immutable once built.
type propagator struct {
	cfg config
	rep *reporter
}

var _ propagation.TextMapPropagator = (*propagator)(nil)

// New returns a TextMapPropagator for W3C Trace Context (level 2) and W3C
// Baggage that applies the policy set by opts. It replaces
// propagation.NewCompositeTextMapPropagator(propagation.TraceContext{},
// propagation.Baggage{}).
//
// Without options it extracts and injects the trace context, accepts inbound
// baggage within the W3C limits, and sends no baggage: see WithEgress.
func New(opts ...Option) propagation.TextMapPropagator {
	for _, o := range opts {
		if _, ok := o.(envOption); ok {
			return &envPropagator{opts: opts}
		}
	}
	return newPropagator(opts...)
}

func newPropagator(opts ...Option) *propagator {
	envcheck.MarkBuilt()
	cfg := newConfig(opts...)
	return &propagator{cfg: cfg, rep: newReporter(cfg.meterProvider)}
}

// Fields returns the header names Inject sets.
func (*propagator) Fields() []string {
	return []string{traceparentHeader, tracestateHeader, baggageHeader}
}

// fields reads the values of a carrier's fields. For an http.Header it looks
// up the canonical names directly, which spares the allocation of
// canonicalising the name on each lookup.
type fields struct {
	carrier propagation.TextMapCarrier
	header  propagation.HeaderCarrier
	values  propagation.ValuesGetter
}

func newFields(c propagation.TextMapCarrier) fields {
	f := fields{carrier: c}
	if h, ok := c.(propagation.HeaderCarrier); ok {
		f.header = h
	} else if v, ok := c.(propagation.ValuesGetter); ok {
		f.values = v
	}
	return f
}

// get returns the values of field; one holds a single value from a carrier
// that is not a ValuesGetter.
func (f fields) get(name, canon string, one *[1]string) []string {
	switch {
	case f.header != nil:
		return f.header[canon]
	case f.values != nil:
		return f.values.Values(name)
	}
	if v := f.carrier.Get(name); v != "" {
		one[0] = v
		return one[:]
	}
	return nil
}

// Extract returns a copy of ctx with the trace context and baggage of the
// carrier. A valid traceparent becomes the remote span context, with the
// tracestate; invalid trace context leaves the span context of ctx as it is.
// Inbound baggage passes the ingress policy and limits and is merged with the
// baggage of ctx (see WithMerge); baggage.FromContext returns the result.
//
// Malformed input never makes Extract fail: it is dropped, counted and
// reported through otel.Handle at a bounded rate.
//
// Extracting the same fields again into the context Extract returned, as
// when two stats handlers of a gRPC server both extract from the RPC's
// metadata, returns that context as it is: the result would be the same,
// and the drops are counted once.
func (p *propagator) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	f := newFields(carrier)
	if e, ok := ctx.(*extracted); ok && e.p == p && e.same(f) {
		return ctx
	}
	var tpOne, tsOne, bagOne [1]string
	tp := f.get(traceparentHeader, traceparentCanon, &tpOne)
	bag := f.get(baggageHeader, baggageCanon, &bagOne)
	ctx, ts, tsRead := p.extractTraceContext(ctx, f, tp, &tsOne)
	ctx = p.extractBaggage(ctx, f, bag)
	if len(p.cfg.legacy) > 0 || len(tp) > 1 || len(ts) > 1 || len(bag) > 1 || (len(tp) == 0 && len(bag) == 0) {
		return ctx
	}
	return &extracted{Context: ctx, p: p, tp: firstValue(tp), ts: firstValue(ts), bag: firstValue(bag), tsRead: tsRead}
}

// extracted is the context an Extract returned, with the fields it
// extracted from. Only an Extract that found a traceparent or baggage, in
// fields of at most one value each, by a propagator without legacy headers,
// returns one.
type extracted struct {
	context.Context
	p           *propagator
	tp, ts, bag string
	tsRead      bool
	memoState
}

// Value answers extractedKey with e, for memoOf.
func (e *extracted) Value(key any) any {
	if key == (extractedKey{}) {
		return e
	}
	return e.Context.Value(key)
}

// same reports whether f holds the fields e was extracted from. Extract's
// result depends on nothing else but the propagator and the context.
func (e *extracted) same(f fields) bool {
	var one [1]string
	if !sameValue(f.get(traceparentHeader, traceparentCanon, &one), e.tp) ||
		!sameValue(f.get(baggageHeader, baggageCanon, &one), e.bag) {
		return false
	}
	return !e.tsRead || sameValue(f.get(tracestateHeader, tracestateCanon, &one), e.ts)
}

// sameValue reports whether the values of a field are the single value v,
// or none when v is empty.
func sameValue(vals []string, v string) bool {
	switch len(vals) {
	case 0:
		return v == ""
	case 1:
		return vals[0] == v
	}
	return false
}

// extractTraceContext extracts the traceparent values tps and, if one is
// valid, the tracestate, which it returns with tsRead set; one is the
// buffer of f.get.
func (p *propagator) extractTraceContext(ctx context.Context, f fields, tps []string, one *[1]string) (_ context.Context, ts []string, tsRead bool) {
	tp, why := singleValue(tps)
	if why != 0 {
		p.rep.fail(ctx, why)
		return ctx, nil, false
	}
	if tp == "" {
		return ctx, nil, false
	}
	scc, ok := parseTraceparent(tp)
	if !ok {
		p.rep.fail(ctx, reasonTraceparentMalformed)
		return ctx, nil, false
	}

	// Failure to parse tracestate must not affect traceparent.
	var carried *carriedState
	ts = f.get(tracestateHeader, tracestateCanon, one)
	scc.TraceState, carried = p.extractTraceState(ctx, ts, scc.TraceID)
	ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(scc))
	return contextWithCarried(ctx, carried), ts, true
}

// extractTraceState returns the tracestate of the field values vals for
// trace id, and the entries trace.TraceState cannot hold, if any.
func (p *propagator) extractTraceState(ctx context.Context, vals []string, id trace.TraceID) (trace.TraceState, *carriedState) {
	var one [1]string
	keep := false
	if len(vals) == 1 {
		var ts trace.TraceState
		var ok bool
		if ts, ok, keep = parsedTracestate.lookup(vals[0]); ok {
			return ts, nil
		}
		if keep {
			one[0] = detach(vals[0])
			vals = one[:]
		}
	}
	return p.parseTraceState(ctx, vals, id, keep)
}

// parseTraceState is extractTraceState for values not in the cache, to
// keep there if keep is set. It is a function of its own so that a cache
// hit takes little stack.
func (p *propagator) parseTraceState(ctx context.Context, vals []string, id trace.TraceID, keep bool) (trace.TraceState, *carriedState) {
	var buf [maxTracestateMembers]tsMember
	ms, canonical, dup, why := parseTracestate(vals, buf[:])
	if why != 0 {
		p.rep.fail(ctx, why)
	}
	if dup {
		p.rep.fail(ctx, reasonTracestateDuplicateKey)
	}
	var raw string
	if canonical {
		raw = vals[0]
	}
	ts, carried := buildTraceState(ms, raw, id)
	if keep && raw != "" && carried == nil {
		// A canonical value parsed cleanly, whole: a cache hit has
		// nothing to report or carry.
		parsedTracestate.store(raw, ts)
	}
	return ts, carried
}

// singleValue returns the only element of a field that must not repeat, such
// as traceparent: the values are combined as RFC 9110 does, empty elements
// are ignored, and more than one element is an error.
func singleValue(vals []string) (string, reason) {
	var v string
	for _, s := range vals {
		for s != "" {
			var elem string
			elem, s, _ = strings.Cut(s, ",")
			if elem = trimOWS(elem); elem == "" {
				continue
			}
			if v != "" {
				return "", reasonTraceparentMultiple
			}
			v = elem
		}
	}
	return v, 0
}

func headersLen(vals []string) int {
	n := 0
	for _, v := range vals {
		n += len(v)
	}
	return n
}

func (p *propagator) extractBaggage(ctx context.Context, f fields, vals []string) context.Context {
	if len(vals) == 0 && len(p.cfg.legacy) == 0 {
		return ctx
	}

	var t tally
	bb := bagBuilder{cfg: &p.cfg}
	if lb := baggage.FromContext(ctx); lb.Len() > 0 {
		bb.addLocal(lb)
	}
	public := p.cfg.isPublic(ctx)
	badUTF8 := false
	// verbatim stays true while the only header value holds exactly the
	// members kept, in canonical form. (A member add keeps for a local one
	// does not clear it, but build ignores verbatim when there are local
	// members.)
	verbatim := len(vals) == 1 && !strings.HasSuffix(vals[0], ",")
	// The work is bounded by what can be kept, not by what was sent: baggage
	// headers longer than scanBytes in all are dropped unread, as the stock
	// propagator drops any over 8192 bytes, and a member too long to fit
	// maxMemberBytes however it is encoded is dropped before it is decoded.
	if n := headersLen(vals); n > p.cfg.scanBytes() {
		t.add(reasonIngressLimitBytes, 1)
		vals, verbatim = nil, false
	}
	for _, v := range vals {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			m := trimOWS(elem)
			if len(m) != len(elem) || m == "" {
				verbatim = false
			}
			if m == "" {
				continue
			}
			if len(m) > p.cfg.maxRawMemberBytes() {
				t.add(reasonIngressLimitMemberBytes, 1)
				verbatim = false
				continue
			}
			e, canonical, utf8OK, ok := parseKnownMember(m)
			if !ok {
				t.add(reasonBaggageMalformed, 1)
				verbatim = false
				continue
			}
			if ok, why := p.cfg.ingressOK(e.key, public); !ok {
				t.add(why, 1)
				verbatim = false
				continue
			}
			badUTF8 = badUTF8 || !utf8OK
			replaced, why := bb.add(e)
			if why != 0 {
				t.add(why, 1)
			}
			if !canonical || replaced || why != 0 {
				verbatim = false
			}
		}
	}
	for _, lh := range p.cfg.legacy {
		// A buffer of its own: vals may be one[:] and is read below.
		var lone [1]string
		v := trimOWS(firstValue(f.get(lh.header, lh.canon, &lone)))
		if v == "" {
			continue
		}
		if ok, why := p.cfg.ingressOK(lh.key, public); !ok {
			t.add(why, 1)
			continue
		}
		if !utf8.ValidString(v) {
			v, badUTF8 = strings.ToValidUTF8(v, "\uFFFD"), true
		}
		_, why := bb.add(bagEntry{key: lh.key, value: v, size: len(lh.key) + 1 + w3cbaggage.ValueSize(v), src: fromLegacy})
		if why != 0 {
			t.add(why, 1)
		}
		verbatim = false
	}
	if badUTF8 {
		p.rep.fail(ctx, reasonBaggageInvalidUTF8)
	}
	t.flush(ctx, p.rep)
	if t.dirty && p.cfg.debugDrops {
		p.debugExtract(ctx, f, public, &bb)
	}
	if bb.remote == 0 {
		return ctx
	}
	var raw string
	if verbatim {
		raw = vals[0]
	}
	return baggage.ContextWithBaggage(ctx, bb.build(raw))
}

// parseKnownMember is parseBaggageMember for a list-member m of a header,
// from parsedMembers if m was kept; a member it does not know is marked to
// be kept if its text missed twice.
func parseKnownMember(m string) (e bagEntry, canonical, utf8OK, ok bool) {
	km, hit, keep := parsedMembers.lookup(m)
	if hit {
		e = km.entry
		e.known = km
		return e, true, km.utf8OK, true
	}
	e, canonical, utf8OK, ok = parseBaggageMember(m)
	e.keep = keep && canonical
	return e, canonical, utf8OK, ok
}

func firstValue(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	return vals[0]
}

// Inject sets the trace context and baggage of ctx in the carrier.
//
// The traceparent is written in version 00 with only the sampled and random
// flags; the tracestate is the one of the span context, plus any entries an
// Extract carried that trace.TraceState cannot hold. A carrier does not say
// where it goes, so Inject writes only the baggage the egress rules grant to
// every destination ("*" rules), within the limits, sorted by key, and
// counts nothing it leaves out: what a destination is granted beyond that is
// written, and what is withheld counted, where the destination is known
// (NewTransport, InjectBaggage). On an http.Header carrier, a baggage header
// that this policy does not produce is removed, so that a header copied from
// elsewhere cannot slip past it, and so is a tracestate left beside a
// traceparent Inject replaces.
func (p *propagator) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	if pr, ok := carrier.(*policyProbe); ok {
		pr.found(p)
		return
	}
	// One string holds the trace context and the baggage.
	var stack [768]byte
	b := stack[:0]
	sc := trace.SpanContextFromContext(ctx)
	if sc.IsValid() {
		b = appendTraceparent(b, sc)
		b = appendTracestate(b, ctx, sc)
	}
	tcEnd := len(b)
	// The baggage is in bg if the memo wrote it, else in b after tcEnd.
	var bg string
	if bag := baggage.FromContext(ctx); bag.Len() > 0 {
		var uncounted tally
		var gbuf [maxGrants]*keySet
		if grants := p.grants(bag, "", false, &uncounted, &gbuf); len(grants) > 0 {
			if m := memoOf(ctx, bag, useInject); m != nil {
				bg = p.memoHeader(m, grants, &uncounted)
			} else {
				b = p.encodeBaggage(b, bag, grants, &uncounted)
			}
		}
		if uncounted.dirty && p.cfg.debugDrops && !destinationAware.Load() {
			p.debugEgress(ctx, bg+string(b[tcEnd:]), "", false)
		}
	}
	if len(b) == 0 && bg == "" {
		clearBaggage(carrier, "")
		return
	}
	h, httpHeaders := carrier.(propagation.HeaderCarrier)
	all := string(b)
	var tp, ts string
	if sc.IsValid() {
		tp, ts = all[:traceparentLen], all[traceparentLen:tcEnd]
	}
	if bg == "" {
		bg = all[tcEnd:]
	}
	if httpHeaders {
		// Set the canonical names directly, with one backing array for the
		// three value slices; each slice is capped so an append by the
		// caller copies instead of overwriting its neighbour.
		vs := make([]string, 3)
		vs[0], vs[1], vs[2] = tp, ts, bg
		if tp != "" {
			h[traceparentCanon] = vs[0:1:1]
		}
		switch {
		case ts != "":
			h[tracestateCanon] = vs[1:2:2]
		case tp != "":
			delete(h, tracestateCanon) // it belonged to another traceparent
		}
		var bv []string // none: remove any baggage left in h
		if bg != "" {
			bv = vs[2:3:3]
		}
		setHeader(http.Header(h), baggageCanon, bv)
		return
	}
	if tp != "" {
		carrier.Set(traceparentHeader, tp)
	}
	if ts != "" {
		carrier.Set(tracestateHeader, ts)
	}
	clearBaggage(carrier, bg)
}

// clearBaggage leaves in carrier the baggage bg and no other: a baggage
// entry set before Inject, under any spelling of the key (a header copied
// from gRPC metadata, a MapCarrier's pre-set entry), would otherwise travel
// past the egress rules. A carrier that cannot delete gets the entry set to
// bg, empty if none.
func clearBaggage(carrier propagation.TextMapCarrier, bg string) {
	if h, ok := carrier.(propagation.HeaderCarrier); ok {
		deleteHeader(http.Header(h), baggageCanon)
		return
	}
	if m, ok := carrier.(propagation.MapCarrier); ok {
		for k := range m {
			if strings.EqualFold(k, baggageHeader) {
				delete(m, k)
			}
		}
		if bg != "" {
			m[baggageHeader] = bg
		}
		return
	}
	for _, k := range carrier.Keys() {
		if k != baggageHeader && strings.EqualFold(k, baggageHeader) {
			carrier.Set(k, "")
		}
	}
	if bg != "" || carrier.Get(baggageHeader) != "" {
		carrier.Set(baggageHeader, bg)
	}
}

// baggageHeader returns the baggage header value for the members of ctx's
// baggage bag the egress rules grant to host (unknown if empty), sorted by
// key, within the limits, and counts what it leaves out in t. If
// unverified, the request may still be sent elsewhere than host: only what
// every destination is granted is written, and what only host is granted is
// counted as withheld for that reason rather than as denied.
func (p *propagator) baggageHeader(ctx context.Context, bag baggage.Baggage, host string, unverified bool, t *tally) string {
	var gbuf [maxGrants]*keySet
	grants := p.grants(bag, host, unverified, t, &gbuf)
	if len(grants) == 0 {
		return ""
	}
	if m := memoOf(ctx, bag, useDestination); m != nil {
		return p.memoHeader(m, grants, t)
	}
	var stack [512]byte
	return encodedBaggage.intern(p.encodeBaggage(stack[:0], bag, grants, t))
}

// grants returns, in gbuf, the grants that decide which members of bag
// baggageHeader writes; if none, it counts every member as denied in t.
func (p *propagator) grants(bag baggage.Baggage, host string, unverified bool, t *tally, gbuf *[maxGrants]*keySet) []*keySet {
	grants := p.cfg.egressGrants(host, gbuf[:0])
	if unverified && host != "" {
		var abuf [maxGrants]*keySet
		if anyHost := p.cfg.egressGrants("", abuf[:0]); len(anyHost) < len(grants) {
			n := 0
			for _, m := range bag.Members() {
				if granted(grants, m.Key()) && !granted(anyHost, m.Key()) {
					n++
				}
			}
			t.add(reasonEgressUnverified, n)
			t.add(reasonEgressDenied, -n)
			grants = append(gbuf[:0], anyHost...)
		}
	}
	if len(grants) == 0 {
		t.add(reasonEgressDenied, bag.Len())
	}
	return grants
}

// encodeBaggage appends the members of bag that grants allow, sorted by key,
// within the limits, and counts what it leaves out in t.
func (p *propagator) encodeBaggage(b []byte, bag baggage.Baggage, grants []*keySet, t *tally) []byte {
	start, n, seen := len(b), 0, 0
	if exactGrants(grants, bag.Len()) {
		// Look the granted keys up, in order, rather than list, copy and sort
		// every member.
		var pbuf [maxGrants]int
		pos := pbuf[:]
		if len(grants) > maxGrants {
			pos = make([]int, len(grants))
		}
		for {
			key, ok := nextGrantedKey(grants, pos[:len(grants)])
			if !ok {
				break
			}
			if m := bag.Member(key); m.Key() != "" {
				seen++
				b, n = p.writeMember(b, start, n, m, t)
			}
		}
	} else {
		ms := bag.Members()
		var ibuf [inlineMembers]int
		order := ibuf[:0]
		for i := range ms {
			order = append(order, i)
		}
		slices.SortFunc(order, func(i, j int) int { return strings.Compare(ms[i].Key(), ms[j].Key()) })
		for _, i := range order {
			if granted(grants, ms[i].Key()) {
				seen++
				b, n = p.writeMember(b, start, n, ms[i], t)
			}
		}
	}
	t.add(reasonEgressDenied, bag.Len()-seen)
	return b
}

// exactGrants reports whether the grants name their keys without prefixes,
// and few enough of them that looking each up beats listing the baggage.
func exactGrants(grants []*keySet, members int) bool {
	n := 0
	for _, g := range grants {
		if len(g.prefixes) > 0 {
			return false
		}
		n += len(g.sorted)
	}
	return n <= 2*members+8
}

// nextGrantedKey merges the sorted names of the grants: it returns the
// smallest name not returned yet, pos holding each grant's progress.
func nextGrantedKey(grants []*keySet, pos []int) (string, bool) {
	var min string
	found := false
	for i, g := range grants {
		if pos[i] < len(g.sorted) && (!found || g.sorted[pos[i]] < min) {
			min, found = g.sorted[pos[i]], true
		}
	}
	for i, g := range grants {
		if pos[i] < len(g.sorted) && g.sorted[pos[i]] == min {
			pos[i]++
		}
	}
	return min, found
}

// writeMember appends m to the baggage header being written from b[start:],
// which holds n members, unless that would break a limit.
func (p *propagator) writeMember(b []byte, start, n int, m baggage.Member, t *tally) ([]byte, int) {
	if !token.Valid(m.Key()) {
		// A key set through baggage.NewMemberRaw need not be a token; it
		// cannot be written in a header.
		t.add(reasonBaggageMalformed, 1)
		return b, n
	}
	mark := len(b)
	if n > 0 {
		b = append(b, ',')
	}
	return p.fit(appendMember(b, m), start, n, mark, t)
}

// fit keeps the member just appended to b at mark, the header being
// written from b[start:] and holding n members before it, if it breaks no
// limit, and counts it in t otherwise.
func (p *propagator) fit(b []byte, start, n, mark int, t *tally) ([]byte, int) {
	size := len(b) - mark
	if n > 0 {
		size--
	}
	switch {
	case n == p.cfg.maxMembers:
		t.add(reasonEgressLimitMembers, 1)
		return b[:mark], n
	case size > p.cfg.maxMemberBytes:
		t.add(reasonEgressLimitMemberBytes, 1)
		return b[:mark], n
	case len(b)-start > p.cfg.maxBytes:
		t.add(reasonEgressLimitBytes, 1)
		return b[:mark], n
	}
	return b, n + 1
}
