// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelhandle_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"

	"github.com/otelctx/otelctx/asynctrack"
	_ "github.com/otelctx/otelctx/internal/otelhandle"
)

func TestHookPanicsReachOtelHandle(t *testing.T) {
	var mu sync.Mutex
	var got []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		got = append(got, err)
		mu.Unlock()
	}))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })

	h := asynctrack.NewHook(asynctrack.HookFuncs{After: func(uint64) { panic("after boom") }}).Enable()
	defer h.Disable()
	asynctrack.Bind(context.Background(), func(context.Context) {})()

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1)
	var hp *asynctrack.HookPanicError
	require.True(t, errors.As(got[0], &hp))
	assert.Equal(t, "After", hp.Event)
}
