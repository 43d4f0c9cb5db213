// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/internal/envcheck"
	"github.com/otelctx/otelctx/internal/token"
	"github.com/otelctx/otelctx/internal/w3cbaggage"
)

// The environment variables WithEnv reads. They are not OTEL_ variables,
// which the OpenTelemetry specification reserves for its own; the prefix
// names this project, as OTEL_PROPAGATORS=otelctx does.
//
// A list of keys takes one syntax everywhere: keys separated by commas, a
// key ending in * selects the keys with that prefix, and * alone selects
// every key.
const (
	envIngressAllow    = "OTELCTX_INGRESS_ALLOW"    // keys: WithIngressAllow, WithIngressPrefixes
	envIngressPrefixes = "OTELCTX_INGRESS_PREFIXES" // prefixes, with or without a trailing *: WithIngressPrefixes
	envIngressDeny     = "OTELCTX_INGRESS_DENY"     // keys: WithIngressDeny
	envPublicEndpoint  = "OTELCTX_PUBLIC_ENDPOINT"  // true or false: WithPublicEndpoint
	envPublicAllow     = "OTELCTX_PUBLIC_ALLOW"     // keys: WithPublicAllow
	envLegacyHeaders   = "OTELCTX_LEGACY_HEADERS"   // header=key, comma-separated: WithLegacyHeader
	envEgress          = "OTELCTX_EGRESS"           // hosts=keys rules, ';'-separated: WithEgress
	envMerge           = "OTELCTX_MERGE"            // local-wins or remote-wins: WithMerge
	envMaxMembers      = "OTELCTX_MAX_MEMBERS"      // integer: WithMaxMembers
	envMaxBytes        = "OTELCTX_MAX_BYTES"        // integer: WithMaxBytes
	envMaxMemberBytes  = "OTELCTX_MAX_MEMBER_BYTES" // integer: WithMaxMemberBytes
	envDebugDrops      = "OTELCTX_DEBUG_DROPS"      // true or false: WithDebugDrops
)

// WithEnv applies the policy set in the OTELCTX_* environment variables
// (see the package documentation for the table). The environment is read
// when the propagator is first used (Extract or Inject), not when New is
// called, so that a propagator built during package initialisation, as
// the autoprop registration is, reports through the error handler the
// application installs in main. Like every option, WithEnv applies where
// it appears among New's options: a setting (merge mode, public endpoint,
// limits) given after it replaces the environment's, one given before it
// is replaced by the environment's if the environment sets it, and lists
// (keys, prefixes, legacy headers, egress rules) add up either way. Put
// WithEnv first for code to win.
//
// Everything WithEnv cannot apply as written is reported through
// otel.Handle, naming the variable, and never widens the policy:
//
//   - an invalid ingress variable (OTELCTX_INGRESS_*, OTELCTX_PUBLIC_*; an
//     empty OTELCTX_PUBLIC_ENDPOINT too) makes Extract accept no inbound
//     baggage at all, whatever else allows it;
//   - an invalid egress rule or legacy mapping is left out;
//   - an invalid merge mode or limit keeps the default, and so does a limit
//     out of its bounds (see WithMaxMembers), up to 16 MiB (16777216);
//   - a variable the process environment holds more than once with
//     different values (seen where /proc/self/environ lists the initial
//     environment; Go itself keeps the first) is invalid;
//   - a variable whose name starts with OTELCTX_, in any case, but is none
//     of these is reported with the closest name and otherwise ignored;
//   - OTEL_PROPAGATORS naming the stock "baggage" propagator beside
//     "otelctx" is reported: that composition accepts and sends every
//     member, past this policy.
func WithEnv() Option { return envOption{} }

type envOption struct{}

func (envOption) apply(c config) config {
	envcheck.MarkRead()
	for _, o := range envOptions(processEnvironment()) {
		c = o.apply(c)
	}
	return c
}

// envPropagator is what New returns when WithEnv is among its options: the
// propagator, built from the options at its first use.
type envPropagator struct {
	opts []Option
	once sync.Once
	p    *propagator
}

func (e *envPropagator) get() *propagator {
	e.once.Do(func() { e.p = newPropagator(e.opts...) })
	return e.p
}

func (e *envPropagator) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return e.get().Extract(ctx, carrier)
}

func (e *envPropagator) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	e.get().Inject(ctx, carrier)
}

func (*envPropagator) Fields() []string { return (*propagator)(nil).Fields() }

// ours returns the propagator behind p if New built it.
func ours(p propagation.TextMapPropagator) (*propagator, bool) {
	switch p := p.(type) {
	case *propagator:
		return p, true
	case *envPropagator:
		return p.get(), true
	}
	return nil, false
}

// environment is what WithEnv reads: the variables, as os.Environ lists
// them, and the initial environment as the kernel passed it, nil where
// unknown.
type environment struct {
	vars    []string
	initial []byte // NUL-separated name=value entries
}

func processEnvironment() environment {
	initial, _ := os.ReadFile("/proc/self/environ")
	return environment{vars: os.Environ(), initial: initial}
}

// envVar is an OTELCTX_ variable: parse returns the options its value sets
// and, if the value is not valid (in part), what it should look like;
// invalid is then applied too, and effect says what that does.
type envVar struct {
	name    string
	parse   func(string) ([]Option, string)
	invalid Option
	effect  string
}

var (
	closeIngress = optionFunc(func(c config) config {
		c.ingressClosed = true
		return c
	})
	publicEndpoint = WithPublicEndpoint()
)

const wantKeys = "want baggage keys separated by commas, a key ending in * for a prefix, * for every key"

var envVars = []envVar{
	{envIngressAllow, func(v string) ([]Option, string) {
		keys, ok := parseKeyList(v)
		if !ok {
			return nil, wantKeys
		}
		return []Option{WithIngressAllow(keys...)}, ""
	}, closeIngress, "no inbound baggage is accepted"},
	{envIngressPrefixes, func(v string) ([]Option, string) {
		var prefixes []string
		for p := range strings.SplitSeq(v, ",") {
			// An empty entry is invalid: only "*" selects every key.
			p = strings.TrimSpace(p)
			if p == "" {
				return nil, "want key prefixes separated by commas, with no empty entry"
			}
			if p = strings.TrimSuffix(p, "*"); !token.Valid(p + "x") {
				return nil, "want key prefixes separated by commas"
			}
			prefixes = append(prefixes, p)
		}
		return []Option{WithIngressPrefixes(prefixes...)}, ""
	}, closeIngress, "no inbound baggage is accepted"},
	{envIngressDeny, func(v string) ([]Option, string) {
		keys, ok := parseKeyList(v)
		if !ok {
			return nil, wantKeys
		}
		return []Option{WithIngressDeny(keys...)}, ""
	}, closeIngress, "no inbound baggage is accepted"},
	{envPublicEndpoint, func(v string) ([]Option, string) {
		public, err := strconv.ParseBool(v)
		if err != nil {
			return nil, "want true or false"
		}
		if public {
			return []Option{publicEndpoint}, ""
		}
		return nil, ""
	}, closeIngress, "no inbound baggage is accepted"},
	{envPublicAllow, func(v string) ([]Option, string) {
		keys, ok := parseKeyList(v)
		if !ok {
			return nil, wantKeys
		}
		return []Option{WithPublicAllow(keys...)}, ""
	}, closeIngress, "no inbound baggage is accepted"},
	{envLegacyHeaders, func(v string) (opts []Option, bad string) {
		var bads []string
		for m := range strings.SplitSeq(v, ",") {
			h, k, found := strings.Cut(strings.TrimSpace(m), "=")
			h, k = strings.TrimSpace(h), strings.TrimSpace(k)
			if !found || !token.Valid(h) || !token.Valid(k) || strings.HasSuffix(k, "*") {
				bads = append(bads, strconv.Quote(strings.TrimSpace(m)))
				continue
			}
			opts = append(opts, WithLegacyHeader(h, k))
		}
		if bads != nil {
			bad = strings.Join(bads, ", ") + ": want header=key mappings separated by commas"
		}
		return opts, bad
	}, nil, "the mappings that cannot be read are left out"},
	{envEgress, func(v string) (opts []Option, bad string) {
		var bads []string
		for r := range strings.SplitSeq(v, ";") {
			if r = strings.TrimSpace(r); r == "" {
				continue
			}
			rule, ok := parseEgressRule(r)
			if !ok {
				bads = append(bads, strconv.Quote(r))
				continue
			}
			opts = append(opts, WithEgress(rule))
		}
		if bads != nil {
			bad = strings.Join(bads, ", ") + ": want hosts=keys rules separated by ';', hosts and keys separated " +
				"by commas, host patterns as in EgressRule, a key ending in * for a prefix"
		}
		return opts, bad
	}, nil, "the rules that cannot be read are left out"},
	{envMerge, func(v string) ([]Option, string) {
		switch v {
		case "local-wins":
			return []Option{WithMerge(MergeLocalWins)}, ""
		case "remote-wins":
			return []Option{WithMerge(MergeRemoteWins)}, ""
		}
		return nil, "want local-wins or remote-wins"
	}, nil, "the default, local-wins, applies"},
	{envMaxMembers, parseLimit(WithMaxMembers, w3cbaggage.MaxMembers), nil, "the default applies"},
	{envMaxBytes, parseLimit(WithMaxBytes, w3cbaggage.MaxBytes), nil, "the default applies"},
	{envMaxMemberBytes, parseLimit(WithMaxMemberBytes, 1), nil, "the default applies"},
	{envDebugDrops, func(v string) ([]Option, string) {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, "want true or false"
		}
		if on {
			return []Option{WithDebugDrops()}, ""
		}
		return nil, ""
	}, nil, "drops are not logged"},
}

func parseLimit(opt func(int) Option, least int) func(string) ([]Option, string) {
	return func(v string) ([]Option, string) {
		n, err := strconv.Atoi(v)
		if err != nil || n < least || n > maxLimit {
			return nil, fmt.Sprintf("want an integer from %d to %d", least, maxLimit)
		}
		return []Option{opt(n)}, ""
	}
}

// envOptions returns the options the environment e sets, and reports
// through otel.Handle what it cannot apply as written (see WithEnv).
func envOptions(e environment) []Option {
	values := map[string]string{}
	var propagators string
	for _, kv := range e.vars {
		name, value, _ := strings.Cut(kv, "=")
		if _, seen := values[name]; !seen {
			values[name] = value
		}
		if name == "OTEL_PROPAGATORS" {
			propagators = value
		}
	}
	conflicting := conflicts(e.initial)
	var opts []Option
	for _, v := range envVars {
		value, set := values[v.name]
		if !set {
			continue
		}
		value = strings.TrimSpace(value)
		var o []Option
		var why string
		switch {
		case conflicting[v.name]:
			why = "given more than once, with different values"
		case value == "" && v.name == envPublicEndpoint:
			why = "empty; want true or false"
		case value == "":
			// An empty list or setting is the list or setting left empty:
			// an empty allow list allows nothing.
			if v.name == envIngressAllow || v.name == envIngressPrefixes {
				o = []Option{WithIngressAllow()}
			}
		default:
			o, why = v.parse(value)
		}
		opts = append(opts, o...)
		if why == "" {
			continue
		}
		if v.invalid != nil {
			opts = append(opts, v.invalid)
		}
		otel.Handle(fmt.Errorf("propagator: %s is invalid (%s): %s", v.name, why, v.effect))
	}
	for _, name := range unknownNames(e.vars) {
		if near, ok := closestName(name); ok {
			otel.Handle(fmt.Errorf("propagator: %s is not a variable otelctx reads, and is ignored: did you mean %s?",
				name, near))
			continue
		}
		names := make([]string, len(envVars))
		for i, v := range envVars {
			names[i] = v.name
		}
		otel.Handle(fmt.Errorf("propagator: %s is not a variable otelctx reads, and is ignored; those it reads are %s",
			name, strings.Join(names, ", ")))
	}
	if beside, after := stockBaggageBeside(propagators); beside {
		sends := ""
		if after {
			sends = `, and, listed after it, sends every member past the egress rules wherever the baggage ` +
				`is injected without NewTransport, InjectBaggage or otelctxgrpc (otelhttp's transport alone)`
		}
		otel.Handle(fmt.Errorf(`propagator: OTEL_PROPAGATORS=%q composes the stock "baggage" propagator beside %q: `+
			`it accepts every inbound baggage member, past the ingress policy%s; drop "baggage" from the list`,
			propagators, envcheck.Name, sends))
	}
	return opts
}

// parseKeyList parses a list of keys, "user.id, tenant.*, *", into the
// keys of an option, which take the same syntax (see keySet.withKeys).
func parseKeyList(v string) (keys []string, ok bool) {
	for k := range strings.SplitSeq(v, ",") {
		k = strings.TrimSpace(k)
		if p, _ := strings.CutSuffix(k, "*"); k != "*" && !token.Valid(p) {
			return nil, false
		}
		keys = append(keys, k)
	}
	return keys, true
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
		if _, err := parseHostPattern(h); err != nil {
			return EgressRule{}, false // the whole rule, not the rule less this host
		}
		r.Hosts = append(r.Hosts, h)
	}
	var ok bool
	if r.Keys, ok = parseKeyList(keys); !ok {
		return EgressRule{}, false
	}
	return r, len(r.Hosts) > 0
}

// conflicts returns the OTELCTX_ names the initial environment, as
// /proc/self/environ lists it, holds more than once with different values.
func conflicts(initial []byte) map[string]bool {
	var out map[string]bool
	first := map[string][]byte{}
	for kv := range bytes.SplitSeq(initial, []byte{0}) {
		name, value, _ := bytes.Cut(kv, []byte{'='})
		if !bytes.HasPrefix(name, []byte(envcheck.Prefix)) {
			continue
		}
		prev, seen := first[string(name)]
		switch {
		case !seen:
			first[string(name)] = value
		case !bytes.Equal(prev, value):
			if out == nil {
				out = map[string]bool{}
			}
			out[string(name)] = true
		}
	}
	return out
}

// unknownNames returns the names in vars that start with OTELCTX_, in any
// case, but are not the name of a variable WithEnv reads, sorted.
func unknownNames(vars []string) []string {
	var out []string
	for _, kv := range vars {
		name, _, _ := strings.Cut(kv, "=")
		if len(name) < len(envcheck.Prefix) || !strings.EqualFold(name[:len(envcheck.Prefix)], envcheck.Prefix) {
			continue
		}
		if !slices.ContainsFunc(envVars, func(v envVar) bool { return v.name == name }) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// closestName returns the name of the variable closest to name, by edit
// distance without regard to case, if it is close enough to be what name
// meant: no more edits than half the length of what follows OTELCTX_.
func closestName(name string) (string, bool) {
	best, bestD := "", -1
	for _, v := range envVars {
		if d := editDistance(strings.ToUpper(name), v.name); bestD < 0 || d < bestD {
			best, bestD = v.name, d
		}
	}
	return best, bestD <= (len(best)-len(envcheck.Prefix))/2
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		diag := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			diag, row[j] = row[j], min(row[j]+1, row[j-1]+1, diag+cost)
		}
	}
	return row[len(b)]
}

// stockBaggageBeside reports whether OTEL_PROPAGATORS, read as contrib's
// autoprop reads it (names matched exactly), composes the stock "baggage"
// propagator with otelctx's, and whether the stock one is listed last of
// the two, so that its Inject writes last. "none" anywhere composes none.
func stockBaggageBeside(propagators string) (beside, after bool) {
	var ours, stock bool
	for p := range strings.SplitSeq(propagators, ",") {
		switch p {
		case "none":
			return false, false
		case envcheck.Name:
			ours, after = true, false
		case "baggage":
			stock, after = true, true
		}
	}
	return ours && stock, after
}
