// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
)

// envPolicy builds a propagator from env (and code options), extracts
// inbound, and returns the keys kept and the baggage sent to host.
func envPolicy(t *testing.T, env map[string]string, inbound, host string, code ...Option) (kept []string, sent string, reports []error) {
	t.Helper()
	errs := captureErrors(t)
	setEnv(t, env)
	p := New(append([]Option{WithEnv()}, code...)...)
	kv := []string{"traceparent", suiteTraceparent, "baggage", inbound}
	if v, ok := env["legacy"]; ok {
		kv = append(kv, "userid", v)
	}
	ctx := extract(p, kv...)
	for _, m := range baggage.FromContext(ctx).Members() {
		kept = append(kept, m.Key())
	}
	sort.Strings(kept)
	return kept, injectTo(p, ctx, host).Get("baggage"), errs()
}

// setEnv leaves in the environment, until the test ends, the OTELCTX_
// variables of env (other keys are ignored) and no other.
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(strings.ToUpper(name), "OTELCTX_") {
			require.NoError(t, os.Unsetenv(name))
			t.Cleanup(func() { _ = os.Setenv(name, value) })
		}
	}
	for name, v := range env {
		if strings.HasPrefix(strings.ToUpper(name), "OTELCTX_") {
			t.Setenv(name, v)
		}
	}
}

func TestEnvPolicy(t *testing.T) {
	const inbound = "user.id=1,tenant.id=2,secret=3"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		code    []Option
		host    string
		kept    []string
		sent    string
		reports int
	}{
		{"empty: accept all, send none", map[string]string{}, nil, "api.internal", []string{"secret", "tenant.id", "user.id"}, "", 0},
		{"allow", map[string]string{envIngressAllow: "user.id, tenant.id"}, nil, "x", []string{"tenant.id", "user.id"}, "", 0},
		{"prefixes", map[string]string{envIngressPrefixes: "user."}, nil, "x", []string{"user.id"}, "", 0},
		{"deny", map[string]string{envIngressDeny: "secret"}, nil, "x", []string{"tenant.id", "user.id"}, "", 0},
		{"invalid allow accepts nothing", map[string]string{envIngressAllow: "user id"}, nil, "x", nil, "", 1},
		{"invalid deny accepts nothing", map[string]string{envIngressDeny: "sec ret"}, nil, "x", nil, "", 1},
		{"public endpoint", map[string]string{envPublicEndpoint: "true", envPublicAllow: "tenant.id"}, nil, "x", []string{"tenant.id"}, "", 0},
		{"invalid public flag accepts nothing", map[string]string{envPublicEndpoint: "maybe"}, nil, "x", nil, "", 1},
		{"egress", map[string]string{envEgress: "*.internal=user.id,tenant.*; partner.example=secret"}, nil, "api.internal", []string{"secret", "tenant.id", "user.id"}, "tenant.id=2,user.id=1", 0},
		{"egress elsewhere", map[string]string{envEgress: "*.internal=user.id"}, nil, "evil.example", []string{"secret", "tenant.id", "user.id"}, "", 0},
		{"invalid egress rule left out", map[string]string{envEgress: "*.internal; good.internal=user.id"}, nil, "good.internal", []string{"secret", "tenant.id", "user.id"}, "user.id=1", 1},
		{"a rule with a bad host pattern is left out whole", map[string]string{envEgress: "*internal,api.internal=user.id; good.internal=tenant.id"}, nil, "api.internal", []string{"secret", "tenant.id", "user.id"}, "", 1},
		{"legacy", map[string]string{envLegacyHeaders: "userid=user.id", envIngressAllow: "user.id", "legacy": "7"}, nil, "x", []string{"user.id"}, "", 0},
		{"invalid limit keeps the default", map[string]string{envMaxMembers: "-3"}, nil, "x", []string{"secret", "tenant.id", "user.id"}, "", 1},
		{"code adds to env lists", map[string]string{envIngressAllow: "user.id"}, []Option{WithIngressAllow("tenant.id")}, "x", []string{"tenant.id", "user.id"}, "", 0},
		{"code public endpoint wins", map[string]string{envPublicEndpoint: "false"}, []Option{WithPublicEndpoint(), WithPublicAllow("user.id")}, "x", []string{"user.id"}, "", 0},
		{"invalid merge keeps the default", map[string]string{envMerge: "whatever"}, nil, "x", []string{"secret", "tenant.id", "user.id"}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, sent, reports := envPolicy(t, tc.env, inbound, tc.host, tc.code...)
			assert.Equal(t, tc.kept, kept)
			assert.Equal(t, tc.sent, sent)
			assert.Len(t, reports, tc.reports, "%v", reports)
			for _, err := range reports {
				assert.True(t, strings.Contains(err.Error(), "OTELCTX_"), "the report names the variable: %v", err)
			}
		})
	}
}

func TestEnvMergeAndLimits(t *testing.T) {
	t.Setenv(envMerge, "remote-wins")
	t.Setenv(envMaxMembers, "100")
	c := newConfig(WithEnv())
	assert.Equal(t, MergeRemoteWins, c.merge)
	assert.Equal(t, 100, c.maxMembers)
	c = newConfig(WithEnv(), WithMerge(MergeLocalWins), WithMaxMembers(64))
	assert.Equal(t, MergeLocalWins, c.merge, "an option after WithEnv wins")
	assert.Equal(t, 64, c.maxMembers, "an option after WithEnv wins")
	c = newConfig(WithMerge(MergeLocalWins), WithMaxMembers(80), WithEnv())
	assert.Equal(t, MergeRemoteWins, c.merge, "WithEnv applies where it is: after the options before it")
	assert.Equal(t, 100, c.maxMembers, "WithEnv applies where it is: after the options before it")
}

// TestEnvInvalidNeverWidens sets each variable, beside a test policy, to
// invalid values, listed and generated, and checks that whatever the
// propagator reports as invalid accepts and sends no member that it would
// not with the variable unset: at a trusted and at a public endpoint, to a
// granted host, another host and an unknown destination.
func TestEnvInvalidNeverWidens(t *testing.T) {
	base := map[string]string{
		envIngressAllow: "user.id",
		envPublicAllow:  "request.id",
		envEgress:       "*.internal=user.id",
	}
	values := []string{"", " ", ",", ",,", "*", "user id", "user.id,,tenant.id", "user.id, bad key", "=", "==",
		"user.id=", "=user.id", "*=*", "*.internal", "*.internal=user id", "a b=user.id", "x/y=user.id",
		"maybe", "yes", "-1", "0", "1e3", "99999999999999999999", "4611686018427387904", "remote", "local-wins ,",
		"user.id;secret", "tenant.*,bad key", "é", "\"user.id\"", "user.id\r\nsecret", "userid", "userid=",
		"userid=user id", "userid=user.*"}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "a.*=,; \t\"é/:[]-_"
	for range 60 {
		b := make([]byte, 1+rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		values = append(values, string(b))
	}
	for _, v := range envVars {
		without := maps.Clone(base)
		delete(without, v.name)
		want := observePolicy(t, without)
		for _, value := range values {
			with := maps.Clone(without)
			with[v.name] = value
			got := observePolicy(t, with)
			if !slices.ContainsFunc(got.reports, func(err error) bool { return strings.Contains(err.Error(), v.name+" is invalid") }) {
				continue // a valid value may widen the policy
			}
			for where, keys := range got.seen {
				assert.Subset(t, want.seen[where], keys, "%s=%q widened %s", v.name, value, where)
			}
		}
	}
}

type observed struct {
	seen    map[string][]string // keys accepted ("in", "in public") or sent ("to <host>")
	reports []error
}

// observePolicy builds a propagator from env and records what it accepts
// and sends.
func observePolicy(t *testing.T, env map[string]string) observed {
	t.Helper()
	errs := captureErrors(t)
	setEnv(t, env)
	p := New(WithEnv())
	o := observed{seen: map[string][]string{}}
	carrier := func() propagation.HeaderCarrier {
		return propagation.HeaderCarrier(headers("baggage", "user.id=1,tenant.id=2,request.id=3,secret=4,role=5,x=6", "userid", "7"))
	}
	keys := func(ctx context.Context) []string {
		var ks []string
		for _, m := range baggage.FromContext(ctx).Members() {
			ks = append(ks, m.Key())
		}
		return ks
	}
	o.seen["in"] = keys(p.Extract(context.Background(), carrier()))
	o.seen["in public"] = keys(p.Extract(ContextWithPublicEndpoint(context.Background()), carrier()))
	local, err := baggage.Parse("user.id=1,tenant.id=2,request.id=3,secret=4")
	require.NoError(t, err)
	ctx := baggage.ContextWithBaggage(context.Background(), local)
	for _, host := range []string{"api.internal", "evil.example", ""} {
		m := propagation.MapCarrier{}
		require.NoError(t, InjectBaggage(ctx, p, m, host))
		b, err := baggage.Parse(m["baggage"])
		require.NoError(t, err)
		o.seen["to "+host] = keys(baggage.ContextWithBaggage(context.Background(), b))
	}
	o.reports = errs()
	return o
}

// TestListSyntax: every list of keys, in a variable or in an option, takes
// "prefix*" and "*", and the two say the same.
func TestListSyntax(t *testing.T) {
	const inbound = "user.id=1,user.name=2,tenant.id=3,secret=4"
	every := []string{"secret", "tenant.id", "user.id", "user.name"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		code []Option
		kept []string
		sent string // to host x
	}{
		{"deny * denies every key", map[string]string{envIngressDeny: "*"}, []Option{WithIngressDeny("*")}, nil, ""},
		{"deny prefix*", map[string]string{envIngressDeny: "user.*"}, []Option{WithIngressDeny("user.*")}, []string{"secret", "tenant.id"}, ""},
		{"allow prefix*", map[string]string{envIngressAllow: "user.*, secret"}, []Option{WithIngressAllow("user.*", "secret")}, []string{"secret", "user.id", "user.name"}, ""},
		{"allow *", map[string]string{envIngressAllow: "*"}, []Option{WithIngressAllow("*")}, every, ""},
		{"prefixes with or without *", map[string]string{envIngressPrefixes: "user.*,ten"}, []Option{WithIngressPrefixes("user.", "ten")}, []string{"tenant.id", "user.id", "user.name"}, ""},
		{"public allow prefix*", map[string]string{envPublicEndpoint: "true", envPublicAllow: "user.*"}, []Option{WithPublicEndpoint(), WithPublicAllow("user.*")}, []string{"user.id", "user.name"}, ""},
		{"egress prefix*", map[string]string{envEgress: "x=user.*"}, []Option{WithEgress(EgressRule{Hosts: []string{"x"}, Keys: []string{"user.*"}})}, every, "user.id=1,user.name=2"},
		{"egress *", map[string]string{envEgress: "x=*"}, []Option{WithEgress(EgressRule{Hosts: []string{"x"}, Keys: []string{"*"}})}, every, "secret=4,tenant.id=3,user.id=1,user.name=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, sent, reports := envPolicy(t, tc.env, inbound, "x")
			assert.Equal(t, tc.kept, kept, "variables")
			assert.Equal(t, tc.sent, sortedMembers(sent), "variables")
			assert.Empty(t, reports)
			kept, sent, reports = envPolicy(t, nil, inbound, "x", tc.code...)
			assert.Equal(t, tc.kept, kept, "options")
			assert.Equal(t, tc.sent, sortedMembers(sent), "options")
			assert.Empty(t, reports)
		})
	}
}

// sortedMembers returns baggage header h with its members sorted.
func sortedMembers(h string) string {
	if h == "" {
		return ""
	}
	ms := strings.Split(h, ",")
	sort.Strings(ms)
	return strings.Join(ms, ",")
}

// TestEnvInvalidDenyClosesIngress: a deny list that cannot be read accepts
// no key, beside an allow list and at a public endpoint too; so does a
// prefix list that cannot be read.
func TestEnvInvalidDenyClosesIngress(t *testing.T) {
	const inbound = "user.id=1,tenant.id=2,request.id=3"
	kept, _, reports := envPolicy(t, map[string]string{envIngressAllow: "user.id,tenant.id", envIngressDeny: "tenant.id,bad key"}, inbound, "x")
	assert.Empty(t, kept)
	assert.Len(t, reports, 1)
	kept, _, _ = envPolicy(t, map[string]string{envPublicEndpoint: "true", envPublicAllow: "request.id", envIngressDeny: "request.id,bad key"}, inbound, "x")
	assert.Empty(t, kept)
	kept, _, _ = envPolicy(t, map[string]string{envIngressAllow: "user.id", envIngressPrefixes: "bad prefix"}, inbound, "x")
	assert.Empty(t, kept)
	// An empty entry is no prefix of every key: only "*" is.
	for _, v := range []string{"acct.,", "acct.,,user", ",", "acct., "} {
		kept, _, reports = envPolicy(t, map[string]string{envIngressAllow: "user.id", envIngressPrefixes: v}, inbound, "x")
		assert.Empty(t, kept, "%s=%q", envIngressPrefixes, v)
		assert.Len(t, reports, 1, "%s=%q", envIngressPrefixes, v)
	}
	kept, _, _ = envPolicy(t, map[string]string{envIngressAllow: "user.id"}, inbound, "x", WithIngressAllow("tenant.id"), WithIngressPrefixes(""))
	assert.Equal(t, []string{"request.id", "tenant.id", "user.id"}, kept, "code still widens a valid environment")
}

func TestEnvReportsWhatItCannotApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
		kept []string
	}{
		{"empty public endpoint", map[string]string{envPublicEndpoint: ""}, envPublicEndpoint + " is invalid (empty", nil},
		{"overflowing limit", map[string]string{envMaxBytes: "4611686018427387904"}, envMaxBytes + " is invalid", []string{"user.id"}},
		{"misspelled: ALLOWED", map[string]string{"OTELCTX_INGRESS_ALLOWED": "user.id"}, "OTELCTX_INGRESS_ALLOWED is not a variable otelctx reads, and is ignored: did you mean OTELCTX_INGRESS_ALLOW?", []string{"user.id"}},
		{"misspelled: INGRES", map[string]string{"OTELCTX_INGRES_ALLOW": "user.id"}, "did you mean OTELCTX_INGRESS_ALLOW?", []string{"user.id"}},
		{"misspelled: case", map[string]string{"otelctx_ingress_allow": "user.id"}, "otelctx_ingress_allow is not a variable otelctx reads, and is ignored: did you mean OTELCTX_INGRESS_ALLOW?", []string{"user.id"}},
		{"misspelled: PUBLIC", map[string]string{"OTELCTX_PUBLIC": "true"}, "did you mean OTELCTX_PUBLIC_ALLOW?", []string{"user.id"}},
		{"unknown, near nothing", map[string]string{"OTELCTX_FOO": "1"}, "OTELCTX_FOO is not a variable otelctx reads, and is ignored; those it reads are OTELCTX_INGRESS_ALLOW, ", []string{"user.id"}},
		{"every bad egress rule named", map[string]string{envEgress: "bad; x=user.id; *internal=user.id; 10.0.0.1=tenant.id,"}, `"bad", "*internal=user.id", "10.0.0.1=tenant.id,": want hosts=keys rules`, []string{"user.id"}},
		{"every bad legacy mapping named", map[string]string{envLegacyHeaders: "x-user=user.id, bad, x-t=t*"}, `"bad", "x-t=t*": want header=key mappings`, []string{"user.id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, _, reports := envPolicy(t, tc.env, "user.id=1", "x")
			assert.Equal(t, tc.kept, kept)
			require.Len(t, reports, 1)
			assert.ErrorContains(t, reports[0], tc.want)
		})
	}
}

// TestEnvLimitsWork: the highest limit still accepts baggage.
func TestEnvLimitsWork(t *testing.T) {
	errs := captureErrors(t)
	p := New(WithMaxBytes(math.MaxInt), WithMaxMemberBytes(math.MaxInt), WithMaxMembers(math.MaxInt))
	assert.Equal(t, []string{"user.id"}, keysOf(extract(p, "baggage", "user.id=1")))
	assert.Len(t, errs(), 3, "each clamped limit is reported")
}

func keysOf(ctx context.Context) []string {
	var ks []string
	for _, m := range baggage.FromContext(ctx).Members() {
		ks = append(ks, m.Key())
	}
	sort.Strings(ks)
	return ks
}

// TestEnvGivenTwice: a variable the initial environment holds twice with
// different values is reported and invalid; Go's os.Getenv would return
// the first.
func TestEnvGivenTwice(t *testing.T) {
	errs := captureErrors(t)
	initial := []byte("PATH=/bin\x00OTELCTX_INGRESS_DENY=secret\x00OTELCTX_EGRESS=*=user.id\x00OTELCTX_INGRESS_DENY=other\x00OTELCTX_EGRESS=*=user.id\x00")
	c := newConfig(WithIngressAllow("user.id", "secret"))
	for _, o := range envOptions(environment{vars: []string{"OTELCTX_INGRESS_DENY=secret", "OTELCTX_EGRESS=*=user.id"}, initial: initial}) {
		c = o.apply(c)
	}
	reports := errs()
	require.Len(t, reports, 1, "identical values are one value")
	assert.ErrorContains(t, reports[0], "OTELCTX_INGRESS_DENY is invalid (given more than once, with different values)")
	ok, _ := c.ingressOK("user.id", false)
	assert.False(t, ok, "the ingress policy is closed")
	assert.Len(t, c.egress, 1)
}

// TestEnvReadAtFirstUse: New(WithEnv()) in a package init reads nothing; the
// first Extract or Inject reads the environment, and what it reports
// reaches the error handler installed since.
func TestEnvReadAtFirstUse(t *testing.T) {
	setEnv(t, map[string]string{envIngressAllow: "bad key"})
	before := captureErrors(t)
	p := New(WithEnv())
	assert.Empty(t, before())
	setEnv(t, map[string]string{envIngressAllow: "user.id, bad key"})
	errs := captureErrors(t)
	assert.Empty(t, keysOf(extract(p, "baggage", "user.id=1")))
	require.Len(t, errs(), 1)
	assert.ErrorContains(t, errs()[0], envIngressAllow)
	assert.Equal(t, []string{"traceparent", "tracestate", "baggage"}, p.Fields())
}

func TestStockBaggageBesideIsReported(t *testing.T) {
	setEnv(t, map[string]string{envIngressAllow: "user.id"})
	const sends = "sends every member past the egress rules wherever the baggage is injected without NewTransport"
	for propagators, want := range map[string]struct{ reported, sends bool }{
		"tracecontext,otelctx": {}, "otelctx, baggage": {}, "otelctx,baggage,none": {},
		"baggage,otelctx": {reported: true}, "otelctx,baggage": {reported: true, sends: true},
		"otelctx,baggage,otelctx": {reported: true}, "baggage,otelctx,baggage": {reported: true, sends: true},
	} {
		t.Setenv("OTEL_PROPAGATORS", propagators)
		errs := captureErrors(t)
		ours := New(WithEnv(), WithEgress(EgressRule{Hosts: []string{"*"}, Keys: []string{"user.id"}}))
		extract(ours, "baggage", "user.id=1")
		if !want.reported {
			assert.Empty(t, errs(), propagators)
			continue
		}
		require.Len(t, errs(), 1, propagators)
		assert.ErrorContains(t, errs()[0], "accepts every inbound baggage member, past the ingress policy")
		// What the report says is what the composite does.
		var list []propagation.TextMapPropagator
		for name := range strings.SplitSeq(propagators, ",") {
			if name == "baggage" {
				list = append(list, propagation.Baggage{})
			} else {
				list = append(list, ours)
			}
		}
		c := propagation.NewCompositeTextMapPropagator(list...)
		ctx := c.Extract(context.Background(), propagation.MapCarrier{"baggage": "user.id=1,secret=2"})
		assert.Equal(t, []string{"secret", "user.id"}, keysOf(ctx), "%s accepts every member", propagators)
		out := propagation.MapCarrier{}
		c.Inject(ctx, out)
		if want.sends {
			assert.ErrorContains(t, errs()[0], sends)
			assert.Equal(t, baggageOf(t, mustBaggage(t, "user.id=1,secret=2")), baggageOf(t, mustBaggage(t, out["baggage"])), propagators)
		} else {
			assert.NotContains(t, errs()[0].Error(), sends)
			assert.Equal(t, "user.id=1", out["baggage"], propagators)
		}
	}
}
