// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

//go:build otelctx_nolinkname

package asynctrack

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNoLinknameLeavesTheCtxPath(t *testing.T) {
	s := NewStore[string]()
	s.Run(context.Background(), "v", func(ctx context.Context) {
		assert.Equal(t, "v", value(s.Value(ctx)))
		_, ok := s.Current()
		assert.False(t, ok)
		assert.Equal(t, context.Background(), Ambient())
		done := make(chan uint64)
		Go(ctx, func(ctx context.Context) { done <- TriggerID(ctx) })
		assert.Equal(t, ExecutionID(ctx), <-done)
	})
}
