// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestIntegratedServiceSeesTheUserEverywhere(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	handler, debug, shutdown := setup(rec)
	srv := httptest.NewServer(handler)
	defer srv.Close()
	debugSrv := httptest.NewServer(debug)
	defer debugSrv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	get := func(header, value string) string {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/hello", nil)
		require.NoError(t, err)
		if header != "" {
			req.Header.Set(header, value)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(body)
	}
	assert.Equal(t, "hello, user 42\n", get("baggage", "user.id=42"))
	assert.Equal(t, "hello, user 7\n", get("userid", "7"), "the legacy header, mapped by the propagator")
	assert.Equal(t, "hello, stranger\n", get("baggage", "admin=true"), "a key the policy does not accept")

	for _, tc := range []struct {
		url  string
		code int
	}{
		{srv.URL + "/debug/async", http.StatusNotFound},            // not on the public listener
		{debugSrv.URL + "/debug/async?format=text", http.StatusOK}, // on the debug one
	} {
		resp, err := client.Get(tc.url)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, tc.code, resp.StatusCode, tc.url)
	}

	// A goroutine's span ends when it returns, just after it has handed the
	// handler its greeting: possibly after the response.
	goroutineSpans := func() (n int) {
		for _, s := range rec.Ended() {
			if strings.HasPrefix(s.Name(), "goroutine ") {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return goroutineSpans() >= 3 }, 5*time.Second, time.Millisecond)
	require.NoError(t, shutdown(context.Background()))

	var users []string
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == attribute.Key("user.id") && s.SpanKind() == trace.SpanKindServer {
				users = append(users, kv.Value.AsString())
			}
		}
	}
	assert.ElementsMatch(t, []string{"42", "7"}, users, "the server spans carry the user")
	assert.Equal(t, 3, goroutineSpans(), "one async span per request's goroutine")
}
