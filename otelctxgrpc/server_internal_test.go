// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc

import (
	"fmt"
	"hash/maphash"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestMethodValue: each method name is its own value, also for two
// methods that take turns in one slot.
func TestMethodValue(t *testing.T) {
	slot := func(m string) uint64 { return maphash.String(methodSeed, m) % uint64(len(methodSlots)) }
	a, b := "/svc/A", ""
	for i := 0; b == ""; i++ {
		if m := fmt.Sprintf("/svc/B%d", i); slot(m) == slot(a) {
			b = m
		}
	}
	for range 2 {
		assert.Equal(t, a, methodValue(a))
		assert.Equal(t, b, methodValue(b))
	}
	assert.Equal(t, "/svc/C", methodValue("/svc/C"))
}
