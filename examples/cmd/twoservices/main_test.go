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
}
