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
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	url := cmdtest.Run(t, `frontend on (http://127\.0\.0\.1:\d+),`, func(ctx context.Context, out *cmdtest.Output) error {
		return run(ctx, out, "127.0.0.1:0")
	})
	req, err := http.NewRequest(http.MethodGet, url+"/profile", nil)
	require.NoError(t, err)
	req.Header.Set("userid", "ken")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r twoservices.Response
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	assert.Equal(t, http.StatusOK, resp.StatusCode, r.Error)
	assert.Equal(t, "ken", r.User)
	require.NotNil(t, r.Backend.User)
	assert.Equal(t, "Ken Thompson", r.Backend.User.Name)
}
