// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
)

// TestEncodedLen checks encodedLen against the stock encoder for every
// ASCII byte, UTF-8 text and members with properties, parsed or built.
func TestEncodedLen(t *testing.T) {
	values := []string{"", "plain", "héllo, 世界 🎉", "100%", "a b\"c,d;e\\f", "\x7f\x00\t\n"}
	for c := range 128 {
		values = append(values, "x"+string(rune(c))+"y")
	}
	for _, v := range values {
		m, err := baggage.NewMemberRaw("k", v)
		require.NoError(t, err)
		assert.Equal(t, len(m.String()), encodedLen(m), "%q", v)
	}
	p, err := baggage.NewKeyValuePropertyRaw("p", "a b")
	require.NoError(t, err)
	m, err := baggage.NewMemberRaw("k", "v", p)
	require.NoError(t, err)
	assert.Equal(t, len(m.String()), encodedLen(m))
	bag, err := baggage.Parse("k=v;p = a%20b ;flag,other=%E4%B8%96")
	require.NoError(t, err)
	for _, m := range bag.Members() {
		assert.Equal(t, len(m.String()), encodedLen(m), m.Key())
	}
}
