// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// keySet selects baggage keys by exact name or by prefix. The zero keySet
// selects nothing. It is immutable once built: with* return copies.
type keySet struct {
	names    map[string]struct{}
	sorted   []string // the names, sorted
	prefixes []string
}

func (s keySet) withKeys(keys []string) keySet {
	names := make(map[string]struct{}, len(s.names)+len(keys))
	for k := range s.names {
		names[k] = struct{}{}
	}
	for _, k := range keys {
		names[k] = struct{}{}
	}
	s.names = names
	s.sorted = slices.Sorted(maps.Keys(names))
	return s
}

func (s keySet) withPrefixes(prefixes []string) keySet {
	s.prefixes = append(s.prefixes[:len(s.prefixes):len(s.prefixes)], prefixes...)
	return s
}

func (s keySet) has(key string) bool {
	if _, ok := s.names[key]; ok {
		return true
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// ingressOK reports whether Extract accepts the baggage key, and if not, why.
func (c *config) ingressOK(key string, public bool) (bool, reason) {
	switch {
	case c.ingressClosed, c.ingressDeny.has(key):
		return false, reasonIngressDenied
	case public:
		if c.publicAllow.has(key) {
			return true, 0
		}
		return false, reasonIngressPublic
	case c.allowConfigured && !c.ingressAllow.has(key):
		return false, reasonIngressDenied
	}
	return true, 0
}

type publicKey struct{}

// ContextWithPublicEndpoint returns a copy of ctx that makes Extract treat
// the carrier as arriving at a public endpoint, as WithPublicEndpoint does
// for every call: inbound baggage is dropped except the keys of
// WithPublicAllow. PublicEndpoint does this for HTTP requests; call it
// directly for other transports.
func ContextWithPublicEndpoint(ctx context.Context) context.Context {
	return context.WithValue(ctx, publicKey{}, true)
}

// isPublic reports whether Extract runs for a public endpoint.
func (c *config) isPublic(ctx context.Context) bool {
	if c.public {
		return true
	}
	v, _ := ctx.Value(publicKey{}).(bool)
	return v
}

type destinationKey struct{}

// destination is where the carrier Inject writes goes. viaTransport marks
// one NewTransport made known: its client calls NewTransport again for every
// redirect, which applies the egress rules to the redirect's own host.
type destination struct {
	host         string
	viaTransport bool
}

// ContextWithDestination returns a copy of ctx that tells Inject where the
// carrier is going, as a host or host:port (the host of a URL). Inject sends
// only the baggage the egress rules grant to that destination. NewTransport
// does this for HTTP requests; call it directly for other transports.
//
// An HTTP request injected by hand (Inject into a propagation.HeaderCarrier)
// is a special case: net/http copies a request's headers onto its
// redirects, to any host, without running a propagator, so baggage granted
// to this destination would reach the redirect's host. Unless ctx also comes
// from ContextWithCheckedRedirects, Inject therefore writes into HTTP
// headers only the baggage granted to every destination ("*" rules), and
// counts and reports the members it withholds (reason
// "egress.unchecked_redirects"). Send the request through NewTransport
// instead, or through a client whose CheckRedirect is CheckRedirect's and
// with ContextWithCheckedRedirects.
func ContextWithDestination(ctx context.Context, host string) context.Context {
	return context.WithValue(ctx, destinationKey{}, destination{host: host})
}

// contextWithTransportDestination is ContextWithDestination for NewTransport.
func contextWithTransportDestination(ctx context.Context, host string) context.Context {
	return context.WithValue(ctx, destinationKey{}, destination{host: host, viaTransport: true})
}

func destinationFromContext(ctx context.Context) (destination, bool) {
	d, ok := ctx.Value(destinationKey{}).(destination)
	return d, ok && d.host != ""
}

type checkedRedirectsKey struct{}

// ContextWithCheckedRedirects returns a copy of ctx that tells Inject the
// HTTP request it injects by hand, with ContextWithDestination, is sent by a
// client whose CheckRedirect is CheckRedirect's, which removes the baggage
// from redirects to other hosts: Inject then writes the baggage granted to
// the destination into the request's headers.
//
//	client := &http.Client{CheckRedirect: propagator.CheckRedirect(nil)}
//	ctx := propagator.ContextWithCheckedRedirects(propagator.ContextWithDestination(ctx, req.URL.Host))
//	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
//	resp, err := client.Do(req)
//
// It changes nothing for other carriers, nor for NewTransport's requests.
func ContextWithCheckedRedirects(ctx context.Context) context.Context {
	return context.WithValue(ctx, checkedRedirectsKey{}, true)
}

// uncheckedRedirects reports whether Inject writes headers by hand for a
// known destination whose redirects nothing checks.
func uncheckedRedirects(ctx context.Context, d destination) bool {
	if d.viaTransport {
		return false
	}
	checked, _ := ctx.Value(checkedRedirectsKey{}).(bool)
	return !checked
}

type egressRule struct {
	hosts []hostPattern
	keys  keySet
}

// hostPattern is a parsed EgressRule host. Names are stored in lower case.
type hostPattern struct {
	any      bool   // "*"
	wildcard bool   // "*.suffix": name holds ".suffix"
	name     string // host name or IP, without brackets
	port     string // empty: any port
}

func parseHostPattern(s string) (hostPattern, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "*" {
		return hostPattern{any: true}, nil
	}
	name, port := splitHostPort(s)
	var p hostPattern
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		p.wildcard = true
		name = "." + rest
	}
	if name == "" || name == "." || strings.Contains(name, "*") {
		return hostPattern{}, fmt.Errorf("propagator: invalid egress host pattern %q ignored", s)
	}
	p.name, p.port = name, port
	return p, nil
}

// splitHostPort splits a URL host into name and port. Unlike
// net.SplitHostPort it accepts a missing port and never allocates.
func splitHostPort(h string) (name, port string) {
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return h, ""
		}
		name, rest := h[1:end], h[end+1:]
		if p, ok := strings.CutPrefix(rest, ":"); ok {
			return name, p
		}
		return name, ""
	}
	i := strings.LastIndexByte(h, ':')
	if i < 0 || strings.IndexByte(h[:i], ':') >= 0 { // no port, or a bare IPv6 address
		return h, ""
	}
	return h[:i], h[i+1:]
}

// match reports whether the destination (name and port, any case) matches.
func (p hostPattern) match(name, port string) bool {
	if p.any {
		return true
	}
	if p.port != "" && p.port != port {
		return false
	}
	if p.wildcard {
		return len(name) > len(p.name) && strings.EqualFold(name[len(name)-len(p.name):], p.name)
	}
	return strings.EqualFold(name, p.name)
}

// maxGrants bounds the egress rules evaluated without allocating; more
// matching rules still work, on the heap.
const maxGrants = 8

// egressGrants returns the key sets granted to destination host, unknown
// unless known, appended to dst.
func (c *config) egressGrants(host string, known bool, dst []*keySet) []*keySet {
	var name, port string
	if known {
		name, port = splitHostPort(host)
	}
	for i := range c.egress {
		r := &c.egress[i]
		for _, p := range r.hosts {
			if p.any || (known && p.match(name, port)) {
				dst = append(dst, &r.keys)
				break
			}
		}
	}
	return dst
}

func granted(grants []*keySet, key string) bool {
	for _, g := range grants {
		if g.has(key) {
			return true
		}
	}
	return false
}
