// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelctx/otelctx/examples/internal/cmdtest"
	"github.com/otelctx/otelctx/examples/twoservices"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	cmdtest.NoOTLP(t)
	url := cmdtest.Run(t, `frontend on (http://127\.0\.0\.1:\d+),`, func(ctx context.Context, out *cmdtest.Output) error {
		return run(ctx, out, "127.0.0.1:0")
	})
	code, body := cmdtest.Get(t, url+"/profile", "userid", "ken")
	var r twoservices.Response
	require.NoError(t, json.Unmarshal(body, &r))
	assert.Equal(t, http.StatusOK, code, r.Error)
	assert.Equal(t, "ken", r.User)
	require.NotNil(t, r.Backend.User)
	assert.Equal(t, "Ken Thompson", r.Backend.User.Name)
	assert.Equal(t, "Hello, ken!", r.Greeting.Text, "the greeter got the user over gRPC")
}

// TestSoak runs the service as a user would run it, recording its spans in
// memory, and sends it 100,000 requests (10,000 under the race detector:
// each is three hops, one over gRPC), bounded to two minutes: its live heap
// must stay flat once the span window is full, within 32 MiB.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 requests")
	}
	cmdtest.NoOTLP(t)
	url := cmdtest.Run(t, `frontend on (http://127\.0\.0\.1:\d+),`, func(ctx context.Context, out *cmdtest.Output) error {
		return run(ctx, out, "127.0.0.1:0")
	})
	n := 100_000
	if raceEnabled {
		n = 10_000
	}
	sent, growth := cmdtest.Soak(t, url+"/profile", 5_000, n, 2*time.Minute)
	t.Logf("%d requests after the warm-up; live heap grew %d KiB", sent, growth>>10)
	assert.Positive(t, sent)
	assert.Less(t, growth, int64(32<<20), "live heap growth over %d requests", sent)
}
