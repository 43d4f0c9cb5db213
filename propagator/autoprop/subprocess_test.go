// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package autoprop

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/propagator"
)

// TestServiceConfiguredByEnvironment runs this test binary again as a
// service configured only by the environment, OTEL_PROPAGATORS=otelctx and
// the policy variables: it receives forged baggage, keeps what the ingress
// policy allows, and calls two loopback hosts; only the granted one gets the
// granted key, and both get the trace context.
func TestServiceConfiguredByEnvironment(t *testing.T) {
	if os.Getenv("OTELCTXTEST_SERVICE") != "" {
		serve(t)
		return
	}
	type got struct{ baggage, traceparent string }
	var mu sync.Mutex
	received := map[string]got{}
	downstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received[r.Host] = got{r.Header.Get("baggage"), r.Header.Get("traceparent")}
		mu.Unlock()
	}))
	defer downstream.Close()
	port := strings.TrimPrefix(downstream.URL, "http://127.0.0.1:")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestServiceConfiguredByEnvironment$", "-test.v")
	cmd.Env = append(os.Environ(),
		"OTELCTXTEST_SERVICE=1",
		"OTELCTXTEST_DOWNSTREAM_PORT="+port,
		"OTEL_PROPAGATORS=otelctx",
		"OTELCTX_INGRESS_ALLOW=user.id,tenant.id",
		"OTELCTX_EGRESS=127.0.0.1=user.id",
	)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	mu.Lock()
	defer mu.Unlock()
	granted, other := received["127.0.0.1:"+port], received["localhost:"+port]
	assert.Equal(t, "user.id=42", granted.baggage, "the granted host gets the granted key only")
	assert.Empty(t, other.baggage, "another host gets no baggage")
	assert.Equal(t, "00-4bf92f3577b34da6a3ce929d0e0e4736-", granted.traceparent[:36], "the trace context flows")
	assert.Equal(t, granted.traceparent[:36], other.traceparent[:36])
}

// serve is the service: the propagator comes from the environment alone.
func serve(t *testing.T) {
	otel.SetTextMapPropagator(autoprop.NewTextMapPropagator())
	p := otel.GetTextMapPropagator()
	in := propagation.HeaderCarrier{}
	in.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	in.Set("baggage", "user.id=42,tenant.id=acme,role=admin")
	ctx := p.Extract(context.Background(), in)
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: propagator.NewTransport(base, nil)}
	port := os.Getenv("OTELCTXTEST_DOWNSTREAM_PORT")
	for _, host := range []string{"127.0.0.1", "localhost"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+":"+port+"/", nil)
		require.NoError(t, err)
		p.Inject(ctx, propagation.HeaderCarrier(req.Header)) // as otelhttp would, before the destination is known
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
}
