// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/otel/baggage"
)

// envPolicy builds a propagator from env (and code options), extracts
// inbound, and returns the keys kept and the baggage sent to host.
func envPolicy(t *testing.T, env map[string]string, inbound, host string, code ...Option) (kept []string, sent string, reports []error) {
	t.Helper()
	errs := captureErrors(t)
	for _, name := range []string{EnvIngressAllow, EnvIngressPrefixes, EnvIngressDeny, EnvPublicEndpoint, EnvPublicAllow,
		EnvLegacyHeaders, EnvEgress, EnvMerge, EnvMaxMembers, EnvMaxBytes, EnvMaxMemberBytes} {
		if v, ok := env[name]; ok {
			t.Setenv(name, v)
		}
	}
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
		{"allow", map[string]string{EnvIngressAllow: "user.id, tenant.id"}, nil, "x", []string{"tenant.id", "user.id"}, "", 0},
		{"prefixes", map[string]string{EnvIngressPrefixes: "user."}, nil, "x", []string{"user.id"}, "", 0},
		{"deny", map[string]string{EnvIngressDeny: "secret"}, nil, "x", []string{"tenant.id", "user.id"}, "", 0},
		{"invalid allow accepts nothing", map[string]string{EnvIngressAllow: "user id"}, nil, "x", nil, "", 1},
		{"invalid deny accepts nothing", map[string]string{EnvIngressDeny: "sec ret"}, nil, "x", nil, "", 1},
		{"public endpoint", map[string]string{EnvPublicEndpoint: "true", EnvPublicAllow: "tenant.id"}, nil, "x", []string{"tenant.id"}, "", 0},
		{"invalid public flag is public", map[string]string{EnvPublicEndpoint: "maybe"}, nil, "x", nil, "", 1},
		{"egress", map[string]string{EnvEgress: "*.internal=user.id,tenant.*; partner.example=secret"}, nil, "api.internal", []string{"secret", "tenant.id", "user.id"}, "tenant.id=2,user.id=1", 0},
		{"egress elsewhere", map[string]string{EnvEgress: "*.internal=user.id"}, nil, "evil.example", []string{"secret", "tenant.id", "user.id"}, "", 0},
		{"invalid egress rule left out", map[string]string{EnvEgress: "*.internal; good.internal=user.id"}, nil, "good.internal", []string{"secret", "tenant.id", "user.id"}, "user.id=1", 1},
		{"legacy", map[string]string{EnvLegacyHeaders: "userid=user.id", EnvIngressAllow: "user.id", "legacy": "7"}, nil, "x", []string{"user.id"}, "", 0},
		{"invalid limit keeps the default", map[string]string{EnvMaxMembers: "-3"}, nil, "x", []string{"secret", "tenant.id", "user.id"}, "", 1},
		{"code adds to env lists", map[string]string{EnvIngressAllow: "user.id"}, []Option{WithIngressAllow("tenant.id")}, "x", []string{"tenant.id", "user.id"}, "", 0},
		{"code public endpoint wins", map[string]string{EnvPublicEndpoint: "false"}, []Option{WithPublicEndpoint(), WithPublicAllow("user.id")}, "x", []string{"user.id"}, "", 0},
		{"invalid merge keeps the default", map[string]string{EnvMerge: "whatever"}, nil, "x", []string{"secret", "tenant.id", "user.id"}, "", 1},
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
	t.Setenv(EnvMerge, "remote-wins")
	t.Setenv(EnvMaxMembers, "100")
	c := newConfig(WithEnv())
	assert.Equal(t, MergeRemoteWins, c.merge)
	assert.Equal(t, 100, c.maxMembers)
	c = newConfig(WithMerge(MergeLocalWins), WithEnv())
	assert.Equal(t, MergeLocalWins, c.merge, "code wins wherever WithEnv is")
}
