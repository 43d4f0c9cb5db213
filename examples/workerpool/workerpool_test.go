// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package workerpool

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// get sends GET url with the request ID id (none if empty) and returns the
// status and body.
func get(t *testing.T, c *http.Client, url, id string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

func newTestServer(t *testing.T, workers int) (*Server, *httptest.Server, *http.Client) {
	s := New(workers)
	srv := httptest.NewServer(s)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
		s.Close()
	})
	return s, srv, &http.Client{Transport: tr}
}

// Many requests share two workers; every task must see the request that
// submitted it, never another one that ran on the same worker before.
func TestEveryTaskSeesItsRequest(t *testing.T) {
	_, srv, c := newTestServer(t, 2)
	const requests, tasks = 50, 6

	var wg sync.WaitGroup
	results := make([]Response, requests)
	codes := make([]int, requests)
	for i := range requests {
		wg.Go(func() {
			code, body := get(t, c, fmt.Sprintf("%s/?n=%d", srv.URL, tasks), fmt.Sprintf("req-%d", i))
			codes[i] = code
			assert.NoError(t, json.Unmarshal(body, &results[i]), "%s", body)
		})
	}
	wg.Wait()

	execs := map[uint64]bool{}
	for i, res := range results {
		require.Equal(t, http.StatusOK, codes[i])
		want := fmt.Sprintf("req-%d", i)
		assert.Equal(t, want, res.Request)
		assert.NotZero(t, res.ExecutionID)
		assert.False(t, execs[res.ExecutionID], "execution IDs are unique per request")
		execs[res.ExecutionID] = true
		require.Len(t, res.Tasks, tasks)
		for n, task := range res.Tasks {
			assert.Equal(t, Task{N: n, Request: want, Ambient: want, TriggerID: res.ExecutionID}, task)
		}
	}
}

func TestBadRequests(t *testing.T) {
	_, srv, c := newTestServer(t, 1)
	for _, tc := range []struct {
		name, query, id, want string
	}{
		{"no request ID", "?n=1", "", "X-Request-Id must be"},
		{"request ID too long", "?n=1", strings.Repeat("a", 65), "X-Request-Id must be"},
		{"request ID with a comma", "?n=1", "a,b", "X-Request-Id must be"},
		{"no n", "", "r", "n must be an integer from 1 to 64"},
		{"n not a number", "?n=x", "r", "n must be an integer from 1 to 64"},
		{"n zero", "?n=0", "r", "n must be an integer from 1 to 64"},
		{"n too large", "?n=65", "r", "n must be an integer from 1 to 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, c, srv.URL+"/"+tc.query, tc.id)
			assert.Equal(t, http.StatusBadRequest, code)
			var e struct{ Error string }
			require.NoError(t, json.Unmarshal(body, &e), "%s", body)
			assert.Contains(t, e.Error, tc.want)
		})
	}
}

func TestClosedPool(t *testing.T) {
	s, srv, c := newTestServer(t, 1)
	s.Close()
	code, body := get(t, c, srv.URL+"/?n=1", "r")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.JSONEq(t, `{"error":"shutting down"}`, string(body))
}
