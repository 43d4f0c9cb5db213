// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
)

// errNoPolicy is InjectBaggage's error when the propagator holds no
// propagator of this package.
var errNoPolicy = errors.New("propagator: the propagator given (nil: the global one) holds no otelctx " +
	"propagator, so no egress rule is known and no baggage is sent: give propagator.New(...), alone or in a composite")

// InjectBaggage replaces the baggage in carrier, under any spelling of its
// key, with exactly the members of ctx's baggage that the egress rules of p
// grant to destination, a host or host:port as in a URL, within the limits;
// the trace context in carrier is left as it is. An empty destination is
// unknown: only "*" rules grant it anything. What it withholds is counted
// (see the package doc).
//
// p is a propagator New returned, or a composite holding one (the first,
// if several); nil stands for the global propagator, read at each call. If
// p holds none, the baggage is removed and the error says so.
//
// Call it where a message is written for the host it goes to, after
// anything else that writes the carrier, as NewTransport does for HTTP and
// otelctxgrpc's DialOptions for gRPC:
//
//	p.Inject(ctx, carrier) // the trace context
//	err := propagator.InjectBaggage(ctx, p, carrier, "broker.internal:9092")
func InjectBaggage(ctx context.Context, p propagation.TextMapPropagator, carrier propagation.TextMapCarrier, destination string) error {
	markDestinationAware()
	pp := policyOf(p)
	if pp == nil {
		writeBaggage(carrier, "")
		return errNoPolicy
	}
	pp.injectBaggage(ctx, carrier, destination)
	return nil
}

// injectBaggage is InjectBaggage with p's rules.
func (p *propagator) injectBaggage(ctx context.Context, carrier propagation.TextMapCarrier, host string) {
	writeBaggage(carrier, p.baggageFor(ctx, host, false))
}

// baggageFor returns the baggage header value for ctx's baggage to host, and
// records what it withholds; see baggageHeader for unverified.
func (p *propagator) baggageFor(ctx context.Context, host string, unverified bool) string {
	bag := baggage.FromContext(ctx)
	if bag.Len() == 0 {
		return ""
	}
	var t tally
	bg := p.baggageHeader(ctx, bag, host, unverified, &t)
	t.flush(ctx, p.rep)
	if t.dirty && p.cfg.debugDrops {
		p.debugEgress(ctx, bg, host, unverified)
	}
	return bg
}

// hasOnlyBaggage reports whether h's baggage is the single value bg, none
// if bg is empty, under the canonical spelling only.
func hasOnlyBaggage(h http.Header, bg string) bool {
	vals := h[baggageCanon]
	if bg == "" && len(vals) > 0 || bg != "" && (len(vals) != 1 || vals[0] != bg) {
		return false
	}
	for k := range h {
		if len(k) == len(baggageCanon) && k != baggageCanon && strings.EqualFold(k, baggageCanon) {
			return false
		}
	}
	return true
}

// writeBaggage leaves in carrier the baggage value bg, if not empty, and no
// other baggage entry.
func writeBaggage(carrier propagation.TextMapCarrier, bg string) {
	h, ok := carrier.(propagation.HeaderCarrier)
	if !ok {
		clearBaggage(carrier, bg)
		return
	}
	var vals []string
	if bg != "" {
		vals = []string{bg}
	}
	setHeader(http.Header(h), baggageCanon, vals)
}

// policyProbe is the carrier policyOf passes to a propagator's Inject: this package's Inject recognises it and records
// itself instead of writing, through any composite; every other
// propagator writes nothing it keeps.
type policyProbe struct{ p *propagator }

func (pr *policyProbe) found(p *propagator) {
	if pr.p == nil {
		pr.p = p
	}
}

func (*policyProbe) Get(string) string  { return "" }
func (*policyProbe) Set(string, string) {}
func (*policyProbe) Keys() []string     { return nil }

// policyOf returns the first propagator of this package that p, or the
// global propagator if p is nil, holds; nil if none.
func policyOf(p propagation.TextMapPropagator) *propagator {
	if p == nil {
		p = otel.GetTextMapPropagator()
	}
	if pp, ok := ours(p); ok {
		return pp
	}
	var pr policyProbe
	// An empty ctx: the other propagators find nothing to write.
	p.Inject(context.Background(), &pr)
	return pr.p
}

// everyHost returns the members of bag the egress rules grant to every
// destination, or an empty baggage if p is nil.
func (p *propagator) everyHost(bag baggage.Baggage) baggage.Baggage {
	if p == nil {
		return baggage.Baggage{}
	}
	var gbuf [maxGrants]*keySet
	grants := p.cfg.egressGrants("", gbuf[:0])
	var kept []baggage.Member
	for _, m := range bag.Members() {
		if granted(grants, m.Key()) {
			kept = append(kept, m)
		}
	}
	if len(kept) == bag.Len() {
		return bag
	}
	b, err := baggage.New(kept...)
	if err != nil {
		return baggage.Baggage{} // fail closed
	}
	return b
}

// destinationAware is set once the process has a NewTransport or has called
// InjectBaggage: something writes the baggage for where it goes. Until
// then, WithDebugDrops logs what Inject withholds, which is all a client
// without them ever sends (see Inject).
var destinationAware atomic.Bool

func markDestinationAware() {
	if !destinationAware.Load() {
		destinationAware.Store(true)
	}
}
