// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package jaegertest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
)

// Environment variables set by scripts/test.sh.
const (
	QueryEnv = "OTELCTX_JAEGER_QUERY"
	OTLPEnv  = "OTELCTX_JAEGER_OTLP"
)

// client talks to Jaeger without keep-alive, so that no idle connection
// goroutine outlives a request and trips goleak in the calling package.
var client = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true},
	Timeout:   5 * time.Second,
}

// Query returns the base URL of Jaeger's query HTTP API, e.g.
// http://127.0.0.1:16686, after checking that Jaeger answers. If it is not
// configured or does not answer, Query skips the test, or fails it when the
// CI environment variable is true.
func Query(t testing.TB) string {
	t.Helper()
	u := os.Getenv(QueryEnv)
	if u == "" {
		unavailable(t, QueryEnv+" is not set")
	}
	resp, err := client.Get(u + "/api/services")
	if err != nil {
		unavailable(t, fmt.Sprintf("Jaeger at %s: %v", u, err))
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		unavailable(t, fmt.Sprintf("Jaeger at %s: GET /api/services: %s", u, resp.Status))
	}
	return u
}

// OTLP returns the OTLP/HTTP base URL of the Jaeger that [Query] returns,
// e.g. http://127.0.0.1:4318; traces are posted to its /v1/traces. It skips
// or fails the test as [Query] does.
func OTLP(t testing.TB) string {
	t.Helper()
	Query(t)
	u := os.Getenv(OTLPEnv)
	if u == "" {
		unavailable(t, OTLPEnv+" is not set")
	}
	return u
}

// Exporter returns an OTLP/HTTP span exporter to the Jaeger that [OTLP]
// returns. It is shut down, and its connections closed, when the test ends;
// shutting it down earlier (as TracerProvider.Shutdown does) is fine.
// It skips or fails the test as [Query] does.
func Exporter(t testing.TB) *otlptrace.Exporter {
	t.Helper()
	// The exporter's default transport is shared and keeps idle connections
	// whose goroutines goleak reports; this one is closed at cleanup.
	tr := &http.Transport{}
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(OTLP(t)+"/v1/traces"),
		otlptracehttp.WithHTTPClient(&http.Client{Transport: tr, Timeout: 10 * time.Second}),
	)
	if err != nil {
		t.Fatalf("jaegertest: OTLP exporter: %v", err)
	}
	t.Cleanup(func() {
		if err := exp.Shutdown(context.Background()); err != nil {
			t.Errorf("jaegertest: OTLP exporter shutdown: %v", err)
		}
		tr.CloseIdleConnections()
	})
	return exp
}

// unavailable ends a test that needs Jaeger when there is none: a skip on a
// developer's machine, a failure in CI, where Jaeger must run.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("jaegertest: %s; in CI Jaeger must run (scripts/test.sh starts it)", why)
	}
	t.Skipf("jaegertest: %s; run ./scripts/test.sh to test against a local Jaeger", why)
}
