// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package w3cbaggage

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/otel/baggage"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestValueSize checks ValueSize against OpenTelemetry's own encoder for
// every byte.
func TestValueSize(t *testing.T) {
	for c := range 256 {
		v := "a" + string([]byte{byte(c)}) + "b"
		m, err := baggage.NewMemberRaw("k", v)
		if err != nil {
			continue // not valid UTF-8 alone
		}
		assert.Equal(t, len(m.String()), len("k=")+ValueSize(v), "%q", v)
	}
	assert.Equal(t, len("%E2%82%AC"), ValueSize("€"))
}
