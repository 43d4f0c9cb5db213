// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package registry

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestName(t *testing.T) {
	assert.Equal(t, "", Name(nil))
	assert.Equal(t, "GET /users", Name("GET /users"))
	assert.Len(t, Name(strings.Repeat("é", 40)), 64, "cut at 64 bytes, on a rune boundary")
	assert.Equal(t, "registry.TestName", Name(TestName), "a function, without its package path")
	assert.Equal(t, "*strings.Builder", Name(&strings.Builder{}), "another value: its type")
}
