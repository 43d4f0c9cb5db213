// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/otelctx/otelctx/examples/internal/cmdtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	cmdtest.NoOTLP(t)
	url := cmdtest.Run(t, `userservice on (http://127\.0\.0\.1:\d+) `, func(ctx context.Context, out *cmdtest.Output) error {
		return run(ctx, out, "127.0.0.1:0", "")
	})
	code, body := cmdtest.Get(t, url+"/user", "userid", "edsger")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"user":{"id":"edsger","name":"Edsger Dijkstra","email":"edsger@example.com"}}`, string(body))
}
