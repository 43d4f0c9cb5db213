// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/propagator"
)

// TestOtelctxPropagator runs the middleware and an outbound call with the
// project's trust-aware propagator: the middleware sees only what its
// ingress policy accepts, legacy headers included, and the outbound call
// carries only what its egress policy sends.
func TestOtelctxPropagator(t *testing.T) {
	requireAmbient(t)
	prop := propagator.New(
		propagator.WithMeterProvider(noop.NewMeterProvider()),
		propagator.WithIngressAllow("user.id"),
		propagator.WithLegacyHeader("userid", "user.id"),
		propagator.WithEgress(propagator.EgressRule{Hosts: []string{"127.0.0.1"}, Keys: []string{"user.id"}}),
	)

	var mu sync.Mutex
	var downstream http.Header
	down := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		downstream = r.Header.Clone()
		mu.Unlock()
	}))
	defer down.Close()
	client := newClient(t, func(rt http.RoundTripper) http.RoundTripper {
		return otelhttp.NewTransport(propagator.NewTransport(rt, prop), otelhttp.WithPropagators(prop))
	})

	srv := httptest.NewServer(baggagebridge.Middleware(baggagebridge.WithPropagators(prop))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			user, _ := baggagebridge.Current("user.id")
			_, forged := baggagebridge.Current("role")
			ctx, err := baggagebridge.Set(r.Context(), "internal.note", "stays here")
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			var callErr error
			asynctrack.Run(ctx, func(context.Context) {
				req, err := http.NewRequestWithContext(asynctrack.Ambient(), http.MethodGet, down.URL, nil)
				if err != nil {
					callErr = err
					return
				}
				resp, err := client.Do(req)
				if err != nil {
					callErr = err
					return
				}
				callErr = resp.Body.Close()
			})
			if callErr != nil {
				http.Error(w, callErr.Error(), http.StatusBadGateway)
				return
			}
			_, _ = fmt.Fprintf(w, "%s %v", user, forged)
		})))
	defer srv.Close()

	c := newClient(t, nil)
	assert.Equal(t, "7 false", get(t, c, srv.URL, "userid", "7", "baggage", "role=admin"))
	mu.Lock()
	assert.Equal(t, "user.id=7", downstream.Get("baggage"), "only what egress allows")
	mu.Unlock()

	assert.Equal(t, "42 false", get(t, c, srv.URL, "baggage", "user.id=42,role=admin"))
	mu.Lock()
	require.NotNil(t, downstream)
	assert.Equal(t, "user.id=42", downstream.Get("baggage"))
	mu.Unlock()
}
