// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/internal/envcheck"
	"github.com/otelctx/otelctx/otelctxgrpc"
)

// TestServerReportsUnreadEnv: OTELCTX_* variables that no propagator reads
// are reported once the first RPC's values are extracted.
func TestServerReportsUnreadEnv(t *testing.T) {
	var mu sync.Mutex
	var got []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		got = append(got, err)
		mu.Unlock()
	}))
	envcheck.Reset(func() []string { return []string{"OTELCTX_INGRESS_ALLOW=user.id"} })
	t.Cleanup(func() { otel.SetErrorHandler(prev); envcheck.Reset(nil) })

	stock := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	addr := serve(t, &echo{unary: func(_ context.Context, in string) (string, error) { return in, nil }},
		otelctxgrpc.ServerOptions(otelctxgrpc.WithPropagators(stock))...)
	cc := dial(t, "passthrough:///"+addr, addr)
	for range 2 {
		_, err := callUnary(context.Background(), cc, "x")
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1)
	assert.ErrorContains(t, got[0], "OTELCTX_INGRESS_ALLOW is set, but no otelctx propagator reads it")
}
