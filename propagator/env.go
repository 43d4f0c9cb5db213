// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"

	"github.com/otelctx/otelctx/internal/token"
)

// The environment variables WithEnv reads. They are not OTEL_ variables,
// which the OpenTelemetry specification reserves for its own; the prefix
// names this project, as OTEL_PROPAGATORS=otelctx does.
const (
	EnvIngressAllow    = "OTELCTX_INGRESS_ALLOW"    // keys, comma-separated: WithIngressAllow
	EnvIngressPrefixes = "OTELCTX_INGRESS_PREFIXES" // prefixes, comma-separated: WithIngressPrefixes
	EnvIngressDeny     = "OTELCTX_INGRESS_DENY"     // keys, comma-separated: WithIngressDeny
	EnvPublicEndpoint  = "OTELCTX_PUBLIC_ENDPOINT"  // true or false: WithPublicEndpoint
	EnvPublicAllow     = "OTELCTX_PUBLIC_ALLOW"     // keys, comma-separated: WithPublicAllow
	EnvLegacyHeaders   = "OTELCTX_LEGACY_HEADERS"   // header=key, comma-separated: WithLegacyHeader
	EnvEgress          = "OTELCTX_EGRESS"           // hosts=keys rules, ';'-separated: WithEgress
	EnvMerge           = "OTELCTX_MERGE"            // local-wins or remote-wins: WithMerge
	EnvMaxMembers      = "OTELCTX_MAX_MEMBERS"      // integer: WithMaxMembers
	EnvMaxBytes        = "OTELCTX_MAX_BYTES"        // integer: WithMaxBytes
	EnvMaxMemberBytes  = "OTELCTX_MAX_MEMBER_BYTES" // integer: WithMaxMemberBytes
)

// WithEnv applies the policy set in the OTELCTX_* environment variables
// (see the package documentation for the table), read when New is called.
// Wherever WithEnv appears among New's options, the environment is applied
// first and the other options after it: a setting given in code (merge mode,
// public endpoint, limits) replaces the environment's, and lists (keys,
// prefixes, legacy headers, egress rules) add to it.
//
// An invalid value is reported through otel.Handle with the variable's name
// and never widens the policy: an invalid ingress list accepts no key, an
// invalid public-endpoint flag makes the endpoint public, and an invalid
// egress rule or legacy mapping is left out; an invalid merge mode or limit
// keeps the default.
func WithEnv() Option { return envOption{} }

type envOption struct{}

func (envOption) apply(c config) config {
	for _, o := range envOptions(os.LookupEnv) {
		c = o.apply(c)
	}
	return c
}

// envOptions returns the options the environment, read through lookup, sets.
func envOptions(lookup func(string) (string, bool)) []Option {
	var opts []Option
	bad := func(name, why string) {
		otel.Handle(fmt.Errorf("propagator: %s is invalid (%s); the policy stays closed", name, why))
	}
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		return strings.TrimSpace(v), ok
	}
	keys := func(name string, prefixes bool) ([]string, bool) {
		v, ok := get(name)
		if !ok || v == "" {
			return nil, ok
		}
		var out []string
		for k := range strings.SplitSeq(v, ",") {
			k = strings.TrimSpace(k)
			if k == "" || (!prefixes && !token.Valid(k)) || (prefixes && !token.Valid(k+"x")) {
				bad(name, "want baggage keys separated by commas")
				return nil, false
			}
			out = append(out, k)
		}
		return out, true
	}
	denyAll := WithIngressAllow() // allow configured, with no key

	if ks, ok := keys(EnvIngressAllow, false); ok {
		opts = append(opts, WithIngressAllow(ks...))
	} else if _, set := lookup(EnvIngressAllow); set {
		opts = append(opts, denyAll)
	}
	if ps, ok := keys(EnvIngressPrefixes, true); ok {
		opts = append(opts, WithIngressPrefixes(ps...))
	} else if _, set := lookup(EnvIngressPrefixes); set {
		opts = append(opts, denyAll)
	}
	if ks, ok := keys(EnvIngressDeny, false); ok {
		opts = append(opts, WithIngressDeny(ks...))
	} else if _, set := lookup(EnvIngressDeny); set {
		opts = append(opts, denyAll) // a deny list that cannot be read denies everything
	}
	if v, ok := get(EnvPublicEndpoint); ok && v != "" {
		switch public, err := strconv.ParseBool(v); {
		case err != nil:
			bad(EnvPublicEndpoint, "want true or false")
			opts = append(opts, WithPublicEndpoint())
		case public:
			opts = append(opts, WithPublicEndpoint())
		}
	}
	if ks, ok := keys(EnvPublicAllow, false); ok && len(ks) > 0 {
		opts = append(opts, WithPublicAllow(ks...))
	}
	if v, ok := get(EnvLegacyHeaders); ok && v != "" {
		for m := range strings.SplitSeq(v, ",") {
			h, k, found := strings.Cut(strings.TrimSpace(m), "=")
			h, k = strings.TrimSpace(h), strings.TrimSpace(k)
			if !found || !token.Valid(h) || !token.Valid(k) {
				bad(EnvLegacyHeaders, "want header=key mappings separated by commas")
				continue
			}
			opts = append(opts, WithLegacyHeader(h, k))
		}
	}
	if v, ok := get(EnvEgress); ok && v != "" {
		for r := range strings.SplitSeq(v, ";") {
			if r = strings.TrimSpace(r); r == "" {
				continue
			}
			rule, ok := parseEgressRule(r)
			if !ok {
				bad(EnvEgress, "want hosts=keys rules separated by ';', hosts and keys separated by commas, a key ending in * for a prefix")
				continue
			}
			opts = append(opts, WithEgress(rule))
		}
	}
	if v, ok := get(EnvMerge); ok && v != "" {
		switch v {
		case "local-wins":
			opts = append(opts, WithMerge(MergeLocalWins))
		case "remote-wins":
			opts = append(opts, WithMerge(MergeRemoteWins))
		default:
			bad(EnvMerge, "want local-wins or remote-wins")
		}
	}
	for _, l := range []struct {
		name string
		opt  func(int) Option
	}{{EnvMaxMembers, WithMaxMembers}, {EnvMaxBytes, WithMaxBytes}, {EnvMaxMemberBytes, WithMaxMemberBytes}} {
		if v, ok := get(l.name); ok && v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				bad(l.name, "want a positive integer")
				continue
			}
			opts = append(opts, l.opt(n))
		}
	}
	return opts
}

// parseEgressRule parses "host,host=key,prefix*".
func parseEgressRule(s string) (EgressRule, bool) {
	hosts, keys, found := strings.Cut(s, "=")
	if !found {
		return EgressRule{}, false
	}
	var r EgressRule
	for h := range strings.SplitSeq(hosts, ",") {
		if h = strings.TrimSpace(h); h == "" || strings.ContainsAny(h, " /") {
			return EgressRule{}, false
		}
		r.Hosts = append(r.Hosts, h)
	}
	for k := range strings.SplitSeq(keys, ",") {
		k = strings.TrimSpace(k)
		if p, ok := strings.CutSuffix(k, "*"); ok {
			if p != "" && !token.Valid(p) {
				return EgressRule{}, false
			}
			r.Prefixes = append(r.Prefixes, p)
			continue
		}
		if !token.Valid(k) {
			return EgressRule{}, false
		}
		r.Keys = append(r.Keys, k)
	}
	return r, len(r.Hosts) > 0
}
