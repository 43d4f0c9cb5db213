// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package token

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestValid(t *testing.T) {
	for _, s := range []string{"a", "user.id", "A-Z_09", "!#$%&'*+-.^_`|~"} {
		assert.True(t, Valid(s), s)
	}
	for _, s := range []string{"", "clé", "a b", "a,b", "a=b", "a;b", "a/b", "a\tb", "\"q\"", "a\x00"} {
		assert.False(t, Valid(s), "%q", s)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
