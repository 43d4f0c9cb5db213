// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelctx/otelctx/examples/internal/cmdtest"
	"github.com/otelctx/otelctx/examples/workerpool"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	url := cmdtest.Run(t, `workerpool on (http://127\.0\.0\.1:\d+),`, func(ctx context.Context, out *cmdtest.Output) error {
		return run(ctx, out, "127.0.0.1:0", 2)
	})
	code, body := cmdtest.Get(t, url+"/?n=3", "X-Request-Id", "r-7")
	var r workerpool.Response
	require.NoError(t, json.Unmarshal(body, &r))
	assert.Equal(t, http.StatusOK, code)
	require.Len(t, r.Tasks, 3)
	for _, task := range r.Tasks {
		assert.Equal(t, "r-7", task.Ambient)
	}
}
