// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel/baggage"

	"github.com/otelctx/otelctx/internal/w3cbaggage"
)

// WithDebugDrops logs each baggage member Extract drops, and each member
// withheld from a destination that NewTransport, InjectBaggage or
// otelctxgrpc's DialOptions write for, at slog.LevelDebug through
// slog.Default() (as it is when the member is dropped): its key, never its
// value; where it came from (the baggage header or a legacy header, and
// whether the endpoint is public) or where it was going; the reason, as on
// the otelctx.baggage.dropped counter; and the rule that would have let it
// through. Inject does not know where a carrier goes and writes only what
// every destination is granted: it logs what it withholds only while the
// process has made no NewTransport and called no InjectBaggage (as
// otelctxgrpc does), for then that is all its clients send. At most debugPerSecond
// records are written a second; the next record written says how many were
// left out. Let the default logger write debug records too: give it a
// handler at slog.LevelDebug, or, while it is slog's own,
// slog.SetLogLoggerLevel(slog.LevelDebug).
//
// It is meant for finding out why a value did not arrive, in development.
// Off, the default, it costs Extract and Inject nothing; on, it costs a
// second look at the members of a call that dropped some.
// OTELCTX_DEBUG_DROPS=true turns it on from the environment (WithEnv).
func WithDebugDrops() Option {
	return optionFunc(func(c config) config {
		c.debugDrops = true
		return c
	})
}

// debugPerSecond bounds the records WithDebugDrops writes.
const debugPerSecond = 100

// dropLog writes WithDebugDrops' records at a bounded rate.
type dropLog struct {
	second  atomic.Int64 // unix second of the current window
	written atomic.Int64 // records written in it
	skipped atomic.Int64 // records left out since the last one written
}

// logDrop writes one record unless the rate is exceeded.
func (p *propagator) logDrop(ctx context.Context, msg string, why reason, rule string, attrs ...slog.Attr) {
	l := slog.Default()
	if !l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	d := &p.rep.debug
	now := p.rep.now().Unix()
	if s := d.second.Load(); s != now && d.second.CompareAndSwap(s, now) {
		d.written.Store(0)
	}
	if d.written.Add(1) > debugPerSecond {
		d.skipped.Add(1)
		return
	}
	attrs = append(attrs, slog.String("reason", why.String()), slog.String("rule", rule))
	if n := d.skipped.Swap(0); n > 0 {
		attrs = append(attrs, slog.Int64("left_out_before", n))
	}
	l.LogAttrs(ctx, slog.LevelDebug, msg, attrs...)
}

// debugExtract logs what the Extract that read the baggage and legacy
// headers of f into bb dropped.
func (p *propagator) debugExtract(ctx context.Context, f fields, public bool, bb *bagBuilder) {
	if !slog.Default().Enabled(ctx, slog.LevelDebug) {
		return
	}
	var one [1]string
	vals := f.get(baggageHeader, baggageCanon, &one)
	const msg = "otelctx: inbound baggage member dropped"
	src := "baggage header"
	if public {
		src = "baggage header, public endpoint"
	}
	if n := headersLen(vals); n > p.cfg.scanBytes() {
		p.logDrop(ctx, "otelctx: inbound baggage header dropped unread", reasonIngressLimitBytes,
			"baggage headers over 4 times the size limit (WithMaxBytes, OTELCTX_MAX_BYTES) are not read", slog.String("source", src))
		vals = nil
	}
	for _, v := range vals {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			m := trimOWS(elem)
			if m == "" {
				continue
			}
			if len(m) > p.cfg.maxRawMemberBytes() {
				p.logDrop(ctx, msg, reasonIngressLimitMemberBytes,
					"the member is over the member size limit (WithMaxMemberBytes, OTELCTX_MAX_MEMBER_BYTES)", slog.String("source", src))
				continue
			}
			e, _, _, ok := parseBaggageMember(m)
			if !ok {
				p.logDrop(ctx, msg, reasonBaggageMalformed,
					"the member is not key=value as W3C Baggage defines it", slog.String("source", src))
				continue
			}
			p.debugIngress(ctx, msg, e, src, public, bb)
		}
	}
	for _, lh := range p.cfg.legacy {
		var lone [1]string
		v := trimOWS(firstValue(f.get(lh.header, lh.canon, &lone)))
		if v == "" {
			continue
		}
		src := "legacy header " + lh.header
		if public {
			src += ", public endpoint"
		}
		p.debugIngress(ctx, msg, bagEntry{key: lh.key, size: len(lh.key) + 1 + w3cbaggage.ValueSize(v), src: fromLegacy}, src, public, bb)
	}
}

// debugIngress logs why the well-formed member e is not in bb, if it is not.
func (p *propagator) debugIngress(ctx context.Context, msg string, e bagEntry, src string, public bool, bb *bagBuilder) {
	key := slog.String("key", e.key)
	source := slog.String("source", src)
	c := &p.cfg
	if ok, why := c.ingressOK(e.key, public); !ok {
		var rule string
		switch {
		case c.ingressClosed:
			rule = "an invalid OTELCTX_ ingress variable closed ingress (see the error reported when the propagator was built)"
		case c.ingressDeny.has(e.key):
			rule = "the key is denied (WithIngressDeny, OTELCTX_INGRESS_DENY)"
		case public:
			rule = "at a public endpoint only WithPublicAllow (OTELCTX_PUBLIC_ALLOW) keys are accepted, and it does not name the key"
		default:
			rule = "no WithIngressAllow or WithIngressPrefixes entry (OTELCTX_INGRESS_ALLOW, OTELCTX_INGRESS_PREFIXES) selects the key"
		}
		p.logDrop(ctx, msg, why, rule, key, source)
		return
	}
	if bb.find(e.key) >= 0 {
		return // kept, or merged with a member of the same key
	}
	switch {
	case e.size > c.maxMemberBytes:
		p.logDrop(ctx, msg, reasonIngressLimitMemberBytes,
			"the member is over the member size limit (WithMaxMemberBytes, OTELCTX_MAX_MEMBER_BYTES)", key, source)
	case bb.n >= c.maxMembers:
		p.logDrop(ctx, msg, reasonIngressLimitMembers,
			"the baggage is at the member limit (WithMaxMembers, OTELCTX_MAX_MEMBERS)", key, source)
	default:
		p.logDrop(ctx, msg, reasonIngressLimitBytes,
			"the member would take the baggage over the size limit (WithMaxBytes, OTELCTX_MAX_BYTES)", key, source)
	}
}

// debugEgress logs the members of the baggage of ctx that bg, the baggage
// header written for host, left out; unverified as for baggageHeader.
func (p *propagator) debugEgress(ctx context.Context, bg, host string, unverified bool) {
	if !slog.Default().Enabled(ctx, slog.LevelDebug) {
		return
	}
	const msg = "otelctx: outbound baggage member withheld"
	sent := map[string]bool{}
	for m := range strings.SplitSeq(bg, ",") {
		if k, _, ok := strings.Cut(m, "="); ok {
			sent[k] = true
		}
	}
	var gbuf, abuf [maxGrants]*keySet
	grants := p.cfg.egressGrants(host, gbuf[:0])
	anyHost := p.cfg.egressGrants("", abuf[:0])
	dst := slog.String("destination", host)
	if host == "" {
		dst = slog.String("destination", "unknown (Inject without NewTransport, InjectBaggage or otelctxgrpc.DialOptions)")
	}
	ms := baggage.FromContext(ctx).Members()
	slices.SortFunc(ms, w3cbaggage.ByKey)
	for _, m := range ms {
		k := m.Key()
		if sent[k] {
			continue
		}
		key := slog.String("key", k)
		switch {
		case !granted(grants, k) && host == "":
			p.logDrop(ctx, msg, reasonEgressDenied,
				`no egress rule for every destination ("*" in WithEgress, OTELCTX_EGRESS) grants the key`, key, dst)
		case !granted(grants, k):
			p.logDrop(ctx, msg, reasonEgressDenied,
				"no egress rule (WithEgress, OTELCTX_EGRESS) grants the key to this destination", key, dst)
		case unverified && !granted(anyHost, k):
			p.logDrop(ctx, msg, reasonEgressUnverified,
				"NewTransport is not innermost (its base is not an *http.Transport): only what every destination may get is sent", key, dst)
		default:
			p.logDrop(ctx, msg, reasonEgressLimitBytes,
				"the member is malformed or over a limit (WithMaxMembers, WithMaxBytes, WithMaxMemberBytes)", key, dst)
		}
	}
}
