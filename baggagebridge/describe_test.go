// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/internal/reqinfo"
)

// TestMiddlewareDescribesRequest checks what the live view shows of a
// request: its method, the pattern that routes it, whichever side of
// Middleware the ServeMux is on, and the selected values, redacted and
// hashed as the options say.
func TestMiddlewareDescribesRequest(t *testing.T) {
	var mu sync.Mutex
	var descs []reqinfo.Describer
	hook := asynctrack.NewHook(asynctrack.HookFuncs{
		Init: func(_ context.Context, _ uint64, typ string, _ uint64, res any) {
			if typ == baggagebridge.TypeHTTPRequest {
				d, _ := res.(reqinfo.Describer)
				mu.Lock()
				descs = append(descs, d)
				mu.Unlock()
			}
		},
	}).Enable()
	defer hook.Disable()

	mw := baggagebridge.Middleware(baggagebridge.WithPropagator(w3c),
		baggagebridge.WithKeys("user.id", "secret", "tenant"), baggagebridge.WithRedacted("secret"),
		baggagebridge.WithHashed([]byte("k"), "tenant"))
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	inner := http.NewServeMux()
	inner.Handle("GET /users/{id}", ok)
	outer := http.NewServeMux()
	outer.Handle("POST /orders/", mw(ok))
	for _, tc := range []struct {
		name, method, path, route string
		h                         http.Handler
	}{
		{"mux inside", http.MethodGet, "/users/42", "GET /users/{id}", mw(inner)},
		{"mux outside", http.MethodPost, "/orders/7", "POST /orders/", outer},
		{"no mux", http.MethodGet, "/anything", "", mw(ok)},
		{"no route", http.MethodGet, "/nowhere", "", mw(inner)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			descs = nil
			mu.Unlock()
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			require.NoError(t, err)
			req.Header.Set("baggage", "user.id=ada,secret=s3cr3t,tenant=acme,other=x")
			c := newClient(t, nil)
			resp, err := c.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())

			mu.Lock()
			defer mu.Unlock()
			require.Len(t, descs, 1)
			require.NotNil(t, descs[0], "the request's resource value describes it")
			got := descs[0].DescribeRequest()
			assert.Equal(t, tc.method, got.Method)
			assert.Equal(t, tc.route, got.Route)
			assert.Equal(t, []reqinfo.KeyValue{
				{Key: "secret", Value: "REDACTED"},
				{Key: "tenant", Value: "eb2d29123bbb2a25be7ff91749165d7a"}, // HMAC-SHA-256("k", "acme")[:16]
				{Key: "user.id", Value: "ada"},
			}, got.Values)
		})
	}
}

// TestMiddlewareDescribesValuesSetLater: a value an auth middleware Sets
// behind Middleware is what the live view shows of the request from then
// on, so an operator finds the request by its user.
func TestMiddlewareDescribesValuesSetLater(t *testing.T) {
	requireAmbient(t)
	var mu sync.Mutex
	var desc reqinfo.Describer
	hook := asynctrack.NewHook(asynctrack.HookFuncs{
		Init: func(_ context.Context, _ uint64, typ string, _ uint64, res any) {
			if typ == baggagebridge.TypeHTTPRequest {
				mu.Lock()
				desc, _ = res.(reqinfo.Describer)
				mu.Unlock()
			}
		},
	}).Enable()
	defer hook.Disable()
	auth := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_, err := baggagebridge.Set(r.Context(), "user.id", "grace")
		require.NoError(t, err)
	})
	srv := httptest.NewServer(baggagebridge.Middleware(baggagebridge.WithPropagator(w3c), baggagebridge.WithKeys("user.id"))(auth))
	defer srv.Close()
	c := newClient(t, nil)
	resp, err := c.Get(srv.URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	mu.Lock()
	defer mu.Unlock()
	require.NotNil(t, desc)
	assert.Equal(t, []reqinfo.KeyValue{{Key: "user.id", Value: "grace"}}, desc.DescribeRequest().Values)
}
