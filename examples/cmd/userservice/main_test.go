package main

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelctx/otelctx/examples/internal/cmdtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	url := cmdtest.Run(t, `userservice on (http://127\.0\.0\.1:\d+) `, func(ctx context.Context, out *cmdtest.Output) error {
		return run(ctx, out, "127.0.0.1:0", "")
	})
	req, err := http.NewRequest(http.MethodGet, url+"/user", nil)
	require.NoError(t, err)
	req.Header.Set("userid", "edsger")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"user":{"id":"edsger","name":"Edsger Dijkstra","email":"edsger@example.com"}}`, string(body))
}
