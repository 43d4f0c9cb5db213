// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"fmt"
	"net/textproto"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelctx/otelctx/internal/token"
	"github.com/otelctx/otelctx/internal/w3cbaggage"
)

// Merge says which side keeps a baggage key present both in the context
// passed to Extract and in the carrier.
type Merge int

const (
	// MergeLocalWins keeps the local member: a caller cannot overwrite what
	// this process already set. It is the default.
	MergeLocalWins Merge = iota
	// MergeRemoteWins lets the carrier's member replace the local one. Local
	// keys the carrier does not mention are kept either way.
	MergeRemoteWins
)

// EgressRule grants baggage keys to destinations. A key is sent to a
// destination when any rule whose Hosts match the destination selects it.
type EgressRule struct {
	// Hosts are destination patterns, matched without regard to case against
	// the host of the request URL:
	//
	//	"api.example.com"       that host, on any port
	//	"api.example.com:8443"  that host and port
	//	"*.example.com"         any subdomain of example.com (not example.com itself)
	//	"127.0.0.1", "[::1]:80" IP literals, as in a URL
	//	"*"                     every destination, including unknown ones
	//
	// Inject does not know the destination, so only "*" rules apply to
	// what it writes; NewTransport and InjectBaggage write the baggage for
	// the destination they are given.
	Hosts []string
	// Keys are the baggage keys the rule selects, by name, with case; a key
	// ending in "*" selects the keys that start with what precedes it, and
	// "*" every key, as in every list of keys (see New).
	Keys []string
	// Prefixes select baggage keys by prefix; the empty prefix selects every
	// key.
	Prefixes []string
}

// config is the policy a propagator applies. It is immutable once built.
type config struct {
	ingressAllow    keySet
	ingressDeny     keySet
	publicAllow     keySet
	public          bool
	merge           Merge
	egress          []egressRule
	maxMembers      int
	maxBytes        int
	maxMemberBytes  int
	legacy          []legacyHeader
	meterProvider   metric.MeterProvider
	allowConfigured bool
	ingressClosed   bool // an invalid ingress setting: accept no inbound key
	debugDrops      bool
}

type legacyHeader struct {
	header string // in lower case, for carriers other than http.Header
	canon  string // canonical MIME form, for http.Header
	key    string
}

// newConfig returns the configuration built from the documented defaults and
// opts, applied in order:
//
//   - ingress: every inbound baggage key is accepted;
//   - not a public endpoint; a public endpoint accepts no key;
//   - merge: MergeLocalWins;
//   - egress: no baggage is sent anywhere;
//   - limits: 64 members, 8192 bytes in all, no tighter limit per member;
//   - no legacy headers;
//   - metrics: otel.GetMeterProvider().
func newConfig(opts ...Option) config {
	c := config{
		merge:      MergeLocalWins,
		maxMembers: w3cbaggage.MaxMembers,
		maxBytes:   w3cbaggage.MaxBytes,
	}
	for _, o := range opts {
		c = o.apply(c)
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	if c.maxMemberBytes == 0 || c.maxMemberBytes > c.maxBytes {
		c.maxMemberBytes = c.maxBytes
	}
	return c
}

// Option configures the propagator returned by New.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithIngressAllow accepts only the inbound baggage keys given here or
// selected by WithIngressPrefixes; with no keys and no prefixes it accepts
// none. Without either option every key is accepted. Keys are matched with
// case; a key ending in "*" selects the keys that start with what precedes
// it, and "*" every key, as in every list of keys (see New). At a public
// endpoint WithPublicAllow applies instead.
func WithIngressAllow(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.ingressAllow = c.ingressAllow.withKeys(keys)
		c.allowConfigured = true
		return c
	})
}

// WithIngressPrefixes accepts the inbound baggage keys that start with one of
// prefixes, in addition to those of WithIngressAllow.
func WithIngressPrefixes(prefixes ...string) Option {
	return optionFunc(func(c config) config {
		c.ingressAllow = c.ingressAllow.withPrefixes(prefixes)
		c.allowConfigured = true
		return c
	})
}

// WithIngressDeny rejects the inbound baggage keys given here, even if they
// are allowed otherwise, at a public endpoint too. "prefix*" and "*" select
// as in WithIngressAllow.
func WithIngressDeny(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.ingressDeny = c.ingressDeny.withKeys(keys)
		return c
	})
}

// WithPublicEndpoint treats every carrier as coming from an untrusted caller:
// inbound baggage is dropped except for the keys of WithPublicAllow. Use it
// for a propagator dedicated to a public service or listener, for example
// with otelhttp.WithPropagators; to decide per request, use
// ContextWithPublicEndpoint instead.
func WithPublicEndpoint() Option {
	return optionFunc(func(c config) config {
		c.public = true
		return c
	})
}

// WithPublicAllow sets the only inbound baggage keys accepted at a public
// endpoint (see WithPublicEndpoint and ContextWithPublicEndpoint), selected
// as in WithIngressAllow. The default accepts none.
func WithPublicAllow(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.publicAllow = c.publicAllow.withKeys(keys)
		return c
	})
}

// WithMerge sets how Extract merges the carrier's baggage into the baggage
// already in the context. The default is MergeLocalWins.
func WithMerge(m Merge) Option {
	return optionFunc(func(c config) config {
		if m == MergeLocalWins || m == MergeRemoteWins {
			c.merge = m
		} else {
			otel.Handle(fmt.Errorf("propagator: unknown Merge %d ignored", m))
		}
		return c
	})
}

// WithEgress adds rules that say which baggage keys Inject may send to which
// destinations. Without rules no baggage leaves the process; the trace
// context always does.
func WithEgress(rules ...EgressRule) Option {
	return optionFunc(func(c config) config {
		for _, r := range rules {
			er := egressRule{keys: keySet{}.withKeys(r.Keys).withPrefixes(r.Prefixes)}
			for _, h := range r.Hosts {
				p, err := parseHostPattern(h)
				if err != nil {
					otel.Handle(err)
					continue
				}
				er.hosts = append(er.hosts, p)
			}
			if len(er.hosts) > 0 {
				c.egress = append(c.egress[:len(c.egress):len(c.egress)], er)
			}
		}
		return c
	})
}

// maxLimit is the highest value the limits take: 16 MiB, so that the
// multiples Extract derives from them (see scanBytes) fit an int on every
// platform.
const maxLimit = 1 << 24

// clampLimit returns n within [least, maxLimit], reporting through
// otel.Handle if it is not.
func clampLimit(option string, n, least int) int {
	switch {
	case n > maxLimit:
		otel.Handle(fmt.Errorf("propagator: %s(%d) is above the highest limit, %d, which applies instead", option, n, maxLimit))
		return maxLimit
	case n < least:
		otel.Handle(fmt.Errorf("propagator: %s(%d) is below the lowest limit, %d, which applies instead", option, n, least))
		return least
	}
	return n
}

// WithMaxMembers sets the number of baggage members Extract accepts and
// Inject sends, from 64 (the default) to 16 MiB. Like WithMaxBytes and
// WithMaxMemberBytes, it replaces the limit set before it, lower or higher;
// a value out of bounds is reported through otel.Handle and the nearest
// bound applies. The lowest member and size limits are W3C Baggage's: a
// platform must propagate at least 64 members and 8192 bytes.
func WithMaxMembers(n int) Option {
	return optionFunc(func(c config) config {
		c.maxMembers = clampLimit("WithMaxMembers", n, w3cbaggage.MaxMembers)
		return c
	})
}

// WithMaxBytes sets the size of the baggage, as encoded in one header, that
// Extract accepts and Inject sends, from 8192 bytes (the default) to 16 MiB.
func WithMaxBytes(n int) Option {
	return optionFunc(func(c config) config {
		c.maxBytes = clampLimit("WithMaxBytes", n, w3cbaggage.MaxBytes)
		return c
	})
}

// WithMaxMemberBytes sets the encoded size of a single baggage member,
// properties included, from 1 byte (W3C sets no lowest) to 16 MiB; members
// over it are dropped in both directions. The default is the size limit of
// WithMaxBytes, which also caps it.
func WithMaxMemberBytes(n int) Option {
	return optionFunc(func(c config) config {
		c.maxMemberBytes = clampLimit("WithMaxMemberBytes", n, 1)
		return c
	})
}

// WithLegacyHeader makes Extract read header, such as "x-request-id", as the
// value of the baggage member key. The value is taken verbatim (it is not
// percent-decoded) and is subject to the same ingress policy and limits as
// the baggage header, which wins when both carry key.
func WithLegacyHeader(header, key string) Option {
	return optionFunc(func(c config) config {
		if header == "" || !token.Valid(key) {
			otel.Handle(fmt.Errorf("propagator: legacy header %q mapped to invalid baggage key %q ignored", header, key))
			return c
		}
		lh := legacyHeader{
			header: strings.ToLower(header),
			canon:  textproto.CanonicalMIMEHeaderKey(header),
			key:    key,
		}
		c.legacy = append(c.legacy[:len(c.legacy):len(c.legacy)], lh)
		return c
	})
}

// WithMeterProvider sets the MeterProvider for the error and drop counters.
// The default is otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		c.meterProvider = mp
		return c
	})
}

// scanBytes is the most inbound baggage header bytes Extract reads: four
// times what it can keep, room for whitespace, percent-encoding and members
// it drops. Longer headers are dropped whole.
func (c *config) scanBytes() int { return 4 * c.maxBytes }

// maxRawMemberBytes is the longest member, as received, that can still fit
// maxMemberBytes once decoded and encoded again: percent-encoding takes at
// most three bytes per byte, and some whitespace is allowed around it.
func (c *config) maxRawMemberBytes() int { return 3*c.maxMemberBytes + 64 }
