// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package userservice

import (
	"context"
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
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/examples/telemetry"
)

type stack struct {
	url      string
	upstream *Upstream
	recorder *tracetest.SpanRecorder
	client   *http.Client
}

// start runs the service on loopback in front of upstream (an URL), or of a
// fresh Upstream if upstream is empty.
func start(t *testing.T, upstream string) *stack {
	t.Helper()
	ctx := context.Background()
	st := &stack{upstream: &Upstream{}, recorder: tracetest.NewSpanRecorder()}
	if upstream == "" {
		up := httptest.NewServer(st.upstream)
		t.Cleanup(up.Close)
		upstream = up.URL
	}
	db := NewDB()
	t.Cleanup(func() { assert.NoError(t, db.Close()) })

	svc, err := telemetry.NewService(ctx, "userservice", &telemetry.Sink{Recorder: st.recorder}, telemetry.Propagator())
	require.NoError(t, err)
	srv := httptest.NewServer(New(svc, db, upstream).Handler())
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	st.client = &http.Client{Transport: tr}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
		assert.NoError(t, svc.Shutdown(ctx))
	})
	st.url = srv.URL + "/user"
	return st
}

// get sends GET /user with the given headers and decodes the answer.
func (st *stack) get(t *testing.T, header ...string) (int, Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, st.url, nil)
	require.NoError(t, err)
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := st.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r Response
	require.NoError(t, json.Unmarshal(body, &r), "%s", body)
	return resp.StatusCode, r
}

func spanNamed(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range spans {
		if s.Name() == name {
			return s
		}
	}
	require.Failf(t, "no span", "named %q", name)
	return nil
}

func TestKnownUser(t *testing.T) {
	st := start(t, "")
	code, resp := st.get(t, "userid", "grace")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, Response{User: &User{"grace", "Grace Hopper", "grace@example.com"}}, resp)

	assert.EqualValues(t, 1, st.upstream.Requests())
	assert.Zero(t, st.upstream.Leaks(), "the upstream must receive no baggage and no userid header")

	spans := st.recorder.Ended()
	server := spanNamed(t, spans, "GET /user")
	assert.Equal(t, trace.SpanKindServer, server.SpanKind())
	db := spanNamed(t, spans, "SELECT users")
	assert.Equal(t, server.SpanContext().SpanID(), db.Parent().SpanID(), "the query runs for the request")
	upstream := spanNamed(t, spans, "HTTP GET")
	assert.Equal(t, trace.SpanKindClient, upstream.SpanKind())
	assert.Equal(t, server.SpanContext().SpanID(), upstream.Parent().SpanID())

	// The bridge's span processor puts the user on the request's spans.
	for _, s := range []sdktrace.ReadOnlySpan{server, db, upstream} {
		assert.Contains(t, s.Attributes(), attribute.String(telemetry.UserKey, "grace"), s.Name())
	}
}

func TestUserFromBaggageHeader(t *testing.T) {
	st := start(t, "")
	code, resp := st.get(t, "baggage", "user.id=ken")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "ken", resp.User.ID)
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header []string
		code   int
		err    string
	}{
		{"unknown user", []string{"userid", "nobody"}, http.StatusNotFound, "unknown user"},
		{"no userid header", nil, http.StatusBadRequest, "no user ID: send the user ID in the userid header"},
		{"empty userid header", []string{"userid", ""}, http.StatusBadRequest, "no user ID"},
		{"userid is one value, never more members", []string{"userid", "ada,role=admin"}, http.StatusNotFound, "unknown user"},
		{"other baggage keys are not trusted", []string{"baggage", "uid=ada"}, http.StatusBadRequest, "no user ID"},
		{"a long ID is not echoed", []string{"userid", strings.Repeat("x", 8000)}, http.StatusNotFound, "unknown user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := start(t, "")
			code, resp := st.get(t, tc.header...)
			assert.Equal(t, tc.code, code)
			assert.Nil(t, resp.User)
			assert.Contains(t, resp.Error, tc.err)
			assert.Less(t, len(resp.Error), 100, "the error echoes nothing the client sent")
		})
	}
}

func TestNoUserDoesNotCallUpstream(t *testing.T) {
	st := start(t, "")
	code, _ := st.get(t)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Zero(t, st.upstream.Requests())
}

func TestUpstreamDown(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing listens there any more
	st := start(t, down.URL)
	code, resp := st.get(t, "userid", "ada")
	assert.Equal(t, http.StatusBadGateway, code)
	assert.Contains(t, resp.Error, "upstream unreachable")
}

func TestUpstreamFailing(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	st := start(t, failing.URL)
	code, resp := st.get(t, "userid", "ada")
	assert.Equal(t, http.StatusBadGateway, code)
	assert.Equal(t, "upstream unreachable", resp.Error, "the upstream's answer is the service's business, not the client's")
}

// Concurrent requests for different users, each read ambiently in its own
// goroutine: every answer is the user of its own request.
func TestConcurrentUsers(t *testing.T) {
	st := start(t, "")
	const requests = 100
	got := make([]string, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			code, resp := st.get(t, "userid", Users[i%len(Users)].ID)
			if assert.Equal(t, http.StatusOK, code, resp.Error) {
				got[i] = resp.User.ID
			}
		})
	}
	wg.Wait()
	for i, id := range got {
		assert.Equal(t, Users[i%len(Users)].ID, id, fmt.Sprint("request ", i))
	}
	assert.Zero(t, st.upstream.Leaks())
}
