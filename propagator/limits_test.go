// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"testing"

	"go.opentelemetry.io/otel/baggage"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimitsLowerAndRaiseWithinBounds(t *testing.T) {
	errs := captureErrors(t)
	c := newConfig(WithMaxMembers(200), WithMaxBytes(20000), WithMaxMemberBytes(500),
		WithMaxMembers(100), WithMaxBytes(9000), WithMaxMemberBytes(10))
	assert.Equal(t, []int{100, 9000, 10}, []int{c.maxMembers, c.maxBytes, c.maxMemberBytes}, "a later option lowers an earlier one")
	assert.Empty(t, errs())

	c = newConfig(WithMaxMembers(10), WithMaxBytes(100), WithMaxMemberBytes(0))
	assert.Equal(t, []int{64, 8192, 1}, []int{c.maxMembers, c.maxBytes, c.maxMemberBytes}, "the lowest bound applies")
	got := errs()
	require.Len(t, got, 3, "each value below its bound is reported")
	assert.ErrorContains(t, got[0], "WithMaxMembers(10) is below the lowest limit, 64")
	assert.ErrorContains(t, got[1], "WithMaxBytes(100) is below the lowest limit, 8192")
	assert.ErrorContains(t, got[2], "WithMaxMemberBytes(0) is below the lowest limit, 1")
}

func TestEnvLimitBelowBoundReported(t *testing.T) {
	errs := captureErrors(t)
	setEnv(t, map[string]string{envMaxMembers: "10"})
	c := newConfig(WithEnv())
	assert.Equal(t, 64, c.maxMembers)
	got := errs()
	require.Len(t, got, 1)
	assert.ErrorContains(t, got[0], "OTELCTX_MAX_MEMBERS is invalid (want an integer from 64 to 16777216)")
}

func TestIngressAllowWithNoKeysAcceptsNone(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"no keys", []Option{WithIngressAllow()}, ""},
		{"no keys, no prefixes", []Option{WithIngressAllow(), WithIngressPrefixes()}, ""},
		{"no keys beside a prefix", []Option{WithIngressAllow(), WithIngressPrefixes("user.")}, "user.id=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := extract(New(tc.opts...), "baggage", "user.id=1,tenant=2")
			assert.Equal(t, tc.want, baggage.FromContext(ctx).String())
		})
	}
}
