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

// keySet selects baggage keys by name or by prefix. The zero keySet
// selects nothing. It is immutable once built: with* return copies.
type keySet struct {
	names    map[string]struct{}
	sorted   []string // the names, sorted
	prefixes []string
}

// withKeys adds keys in the syntax of every list of keys, in options and
// variables alike: a key ending in "*" selects the keys that start with
// what precedes the "*", so "*" selects every key; any other key selects
// itself.
func (s keySet) withKeys(keys []string) keySet {
	names := make(map[string]struct{}, len(s.names)+len(keys))
	for k := range s.names {
		names[k] = struct{}{}
	}
	var prefixes []string
	for _, k := range keys {
		if p, ok := strings.CutSuffix(k, "*"); ok {
			prefixes = append(prefixes, p)
		} else {
			names[k] = struct{}{}
		}
	}
	s.names = names
	s.sorted = slices.Sorted(maps.Keys(names))
	return s.withPrefixes(prefixes)
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
// WithPublicAllow. It is the per-request form: call it in a handler that
// wraps otelhttp's, for the requests the function given to
// otelhttp.WithPublicEndpointFn marks (see the example); for gRPC,
// otelctxgrpc.WithPublicEndpointFn calls it.
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

// egressGrants returns the key sets granted to destination host, appended
// to dst. An empty host is unknown: only "*" rules grant it anything.
func (c *config) egressGrants(host string, dst []*keySet) []*keySet {
	name, port := splitHostPort(host)
	for i := range c.egress {
		r := &c.egress[i]
		for _, p := range r.hosts {
			if p.any || (host != "" && p.match(name, port)) {
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
