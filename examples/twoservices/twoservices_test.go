// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package twoservices

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/otelctx/otelctx/examples/telemetry"
	"github.com/otelctx/otelctx/examples/thirdparty"
	"github.com/otelctx/otelctx/examples/userservice"
)

// start runs a Stack for the test and returns it with a client.
func start(t *testing.T, c Config) (*Stack, *http.Client) {
	t.Helper()
	st, err := Start(context.Background(), c)
	require.NoError(t, err)
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, st.Shutdown(ctx))
	})
	return st, &http.Client{Transport: tr}
}

func recorded(t *testing.T) (*Stack, *http.Client, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	st, c := start(t, Config{Sink: &telemetry.Sink{Recorder: rec}})
	return st, c, rec
}

// profile sends GET /profile with the given headers and decodes the answer.
func profile(t *testing.T, c *http.Client, st *Stack, header ...string) (int, Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, st.Frontend.URL+"/profile", nil)
	require.NoError(t, err)
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r Response
	require.NoError(t, json.Unmarshal(body, &r), "%s", body)
	return resp.StatusCode, r
}

// wantSeen asserts that every piece of the request's work saw its user and
// its session, and that the greeter's handler and goroutine saw the user
// and no session.
func wantSeen(t *testing.T, r Response, user string) {
	t.Helper()
	want := []Sighting{}
	for _, where := range []string{"handler", "goroutine", "plain go", "pool task", "timer"} {
		want = append(want, Sighting{Where: where, User: user, Session: r.Session})
	}
	assert.Equal(t, want, r.Seen)
	assert.NotZero(t, r.Session)
	assert.Equal(t, Greeting{Text: "Hello, " + user + "!", Seen: []Sighting{
		{Where: "greeter", User: user},
		{Where: "greeter goroutine", User: user},
	}}, r.Greeting, "the greeter got the user as baggage, and no session")
}

func TestProfile(t *testing.T) {
	st, c, rec := recorded(t)
	code, r := profile(t, c, st, "userid", "ada")
	require.Equal(t, http.StatusOK, code, r.Error)
	assert.Equal(t, "ada", r.User)
	wantSeen(t, r, "ada")
	assert.Equal(t, http.StatusOK, r.BackendStatus)
	assert.Equal(t, &userservice.User{ID: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}, r.Backend.User)
	assert.EqualValues(t, 1, st.UpstreamStandIn.Requests())
	assert.Zero(t, st.UpstreamStandIn.Leaks(), "no baggage to the backend's upstream")

	// The frontend: server, the third-party library's, HTTP client, gRPC
	// client, five group goroutines, a task, a timer. The backend: server, upstream client,
	// query, lookup goroutine. The greeter: server, goroutine.
	spans := endedSpans(t, rec, r.TraceID, 17)
	assert.Len(t, spans, 17)
	fe := spans.one(t, "frontend", "GET /profile")
	assert.Equal(t, trace.SpanKindServer, fe.SpanKind())
	assert.False(t, fe.Parent().IsValid(), "the frontend's span is the root")
	audit := spans.one(t, "frontend", thirdparty.SpanName)
	assert.Equal(t, fe.SpanContext().SpanID(), audit.Parent().SpanID(), "a span started without the request's ctx joins it")
	assert.Contains(t, audit.Attributes(), attribute.String(telemetry.UserKey, "ada"), "with its values")
	call := spans.one(t, "frontend", "HTTP GET")
	caller := spans.byID(call.Parent().SpanID())
	require.NotNil(t, caller)
	assert.Equal(t, "goroutine", attr(caller, attribute.Key("async.type")).AsString(), "the call nests under the goroutine that made it")
	assert.Equal(t, fe.SpanContext().SpanID(), caller.Parent().SpanID())
	be := spans.one(t, "backend", "GET /user")
	assert.Equal(t, call.SpanContext().SpanID(), be.Parent().SpanID(), "the backend continues the frontend's trace")
	rpc := spans.one(t, "frontend", GreetMethod[1:])
	assert.Equal(t, trace.SpanKindClient, rpc.SpanKind())
	rpcCaller := spans.byID(rpc.Parent().SpanID())
	require.NotNil(t, rpcCaller)
	assert.Equal(t, "goroutine", attr(rpcCaller, attribute.Key("async.type")).AsString(), "the RPC nests under the goroutine that made it")
	assert.Equal(t, fe.SpanContext().SpanID(), rpcCaller.Parent().SpanID())
	assert.NotEqual(t, caller.SpanContext().SpanID(), rpcCaller.SpanContext().SpanID(), "the two calls run in goroutines of their own")
	gr := spans.one(t, "greeter", GreetMethod[1:])
	assert.Equal(t, trace.SpanKindServer, gr.SpanKind())
	assert.Equal(t, rpc.SpanContext().SpanID(), gr.Parent().SpanID(), "the greeter continues the frontend's trace")

	// user.id came to the backend and to the greeter as baggage (the
	// frontend sends no userid header), and is on the three services'
	// spans.
	for _, s := range []sdktrace.ReadOnlySpan{fe, call, be, rpc, gr} {
		assert.Contains(t, s.Attributes(), attribute.String(telemetry.UserKey, "ada"), "%s %s", serviceName(s), s.Name())
	}

	// Async-resource spans, children of the span their resource was created
	// under: the request's, or the async span of the goroutine that created
	// it (the span tree is the trigger tree). The frontend's four group
	// goroutines, its pool task and timer, the backend's lookup goroutine,
	// and the greeter's goroutine, under the RPC's server span.
	for _, tc := range []struct {
		service, typ string
		n            int
		parent       sdktrace.ReadOnlySpan
	}{
		{"frontend", "goroutine", 5, fe},
		{"frontend", "task", 1, fe},
		{"frontend", "timer", 1, fe},
		{"backend", "goroutine", 1, be},
		{"greeter", "goroutine", 1, gr},
	} {
		got := spans.named(tc.service, tc.typ)
		require.Len(t, got, tc.n, "%s %s spans", tc.service, tc.typ)
		for _, s := range got {
			parent := tc.parent
			if trigger := spans.async(attr(s, attribute.Key("async.trigger_id")), tc.service); trigger != nil {
				parent = trigger
			}
			assert.Equal(t, parent.SpanContext().SpanID(), s.Parent().SpanID(), "%s %s", tc.service, tc.typ)
			assert.Contains(t, s.Attributes(), attribute.Key("async.type").String(tc.typ))
			assert.Contains(t, s.Attributes(), attribute.String(telemetry.UserKey, "ada"))
			var events []string
			for _, e := range s.Events() {
				events = append(events, e.Name)
			}
			assert.Equal(t, []string{"async.before", "async.after"}, events)
		}
	}
	// The task's trigger is the goroutine that submitted it.
	task := spans.named("frontend", "task")[0]
	trigger := attr(task, attribute.Key("async.trigger_id"))
	var submitter bool
	for _, g := range spans.named("frontend", "goroutine") {
		submitter = submitter || attr(g, attribute.Key("async.id")) == trigger
	}
	assert.True(t, submitter, "the task's async.trigger_id is one of the request's goroutines")
}

func TestForgedBaggageIsDropped(t *testing.T) {
	st, c, rec := recorded(t)
	code, r := profile(t, c, st, "baggage", "user.id=ken,role=admin")
	require.Equal(t, http.StatusOK, code, r.Error)
	wantSeen(t, r, "ken")
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			assert.NotEqual(t, attribute.Key("role"), kv.Key, "untrusted baggage key on span %s", s.Name())
		}
	}
}

func TestErrors(t *testing.T) {
	st, c, _ := recorded(t)
	t.Run("no user", func(t *testing.T) {
		code, r := profile(t, c, st)
		assert.Equal(t, http.StatusBadRequest, code)
		assert.Equal(t, "no user ID: send the user ID in the userid header", r.Error)
		assert.Zero(t, r.BackendStatus, "the backend is not called")
	})
	t.Run("unknown user", func(t *testing.T) {
		code, r := profile(t, c, st, "userid", "nobody")
		assert.Equal(t, http.StatusNotFound, code)
		assert.Equal(t, "unknown user", r.Error, "the client's ID is not echoed")
		wantSeen(t, r, "nobody")
	})
}

func TestBackendDown(t *testing.T) {
	st, c, _ := recorded(t)
	require.NoError(t, st.Backend.Shutdown(context.Background()))
	code, r := profile(t, c, st, "userid", "ada")
	assert.Equal(t, http.StatusBadGateway, code)
	assert.Contains(t, r.Error, "backend unreachable")
}

func TestGreeterDown(t *testing.T) {
	st, c, _ := recorded(t)
	require.NoError(t, st.Greeter.Shutdown(context.Background()))
	code, r := profile(t, c, st, "userid", "ada")
	assert.Equal(t, http.StatusBadGateway, code)
	assert.Contains(t, r.Error, "greeter: rpc error: code = Unavailable")
	assert.Equal(t, Greeting{}, r.Greeting)
}

// The greeter takes the user from the RPC's baggage, under its ingress
// policy, and from nowhere else.
func TestGreeterIngress(t *testing.T) {
	st, _, _ := recorded(t)
	cc, err := grpc.NewClient(st.Greeter.Target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer cc.Close()
	ctx := context.Background()

	_, err = greet(ctx, cc)
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "no baggage: %v", err)
	_, err = greet(metadata.AppendToOutgoingContext(ctx, "baggage", "role=admin"), cc)
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "a key the policy drops: %v", err)

	g, err := greet(metadata.AppendToOutgoingContext(ctx, "baggage", "user.id=joan,role=admin"), cc)
	require.NoError(t, err)
	assert.Equal(t, "Hello, joan!", g.Text)
}

// Concurrent requests for different users through both services: every
// goroutine, task and timer of a request, and the backend, see its user.
func TestConcurrentProfiles(t *testing.T) {
	st, c, _ := recorded(t)
	const requests = 100
	results := make([]Response, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			code, r := profile(t, c, st, "userid", userservice.Users[i%len(userservice.Users)].ID)
			assert.Equal(t, http.StatusOK, code, r.Error)
			results[i] = r
		})
	}
	wg.Wait()
	sessions := map[uint64]bool{}
	for i, r := range results {
		user := userservice.Users[i%len(userservice.Users)].ID
		wantSeen(t, r, user)
		if assert.NotNil(t, r.Backend.User, fmt.Sprint("request ", i)) {
			assert.Equal(t, user, r.Backend.User.ID)
		}
		assert.False(t, sessions[r.Session], "sessions are per request")
		sessions[r.Session] = true
	}
	assert.Zero(t, st.UpstreamStandIn.Leaks())
}

// spanSet is the ended spans of one trace.
type spanSet []sdktrace.ReadOnlySpan

// endedSpans returns the spans of trace traceID once n of them have ended:
// a server span ends after its response is written, a goroutine's span
// when the goroutine returns, which may be later still.
func endedSpans(t *testing.T, rec *tracetest.SpanRecorder, traceID string, n int) spanSet {
	t.Helper()
	var out spanSet
	require.Eventually(t, func() bool {
		out = out[:0]
		for _, s := range rec.Ended() {
			if s.SpanContext().TraceID().String() == traceID {
				out = append(out, s)
			}
		}
		return len(out) >= n
	}, 5*time.Second, 5*time.Millisecond)
	return out
}

// byID returns the span with span ID id, or nil.
func (ss spanSet) byID(id trace.SpanID) sdktrace.ReadOnlySpan {
	for _, s := range ss {
		if s.SpanContext().SpanID() == id {
			return s
		}
	}
	return nil
}

// async returns the async span of service's resource id, or nil.
func (ss spanSet) async(id attribute.Value, service string) sdktrace.ReadOnlySpan {
	for _, s := range ss {
		if serviceName(s) == service && attr(s, attribute.Key("async.id")) == id {
			return s
		}
	}
	return nil
}

// named returns service's spans called name, or, for an async type, the
// async spans of that type (named after the type and their function).
func (ss spanSet) named(service, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range ss {
		if (s.Name() == name || attr(s, attribute.Key("async.type")).AsString() == name) && serviceName(s) == service {
			out = append(out, s)
		}
	}
	return out
}

func (ss spanSet) one(t *testing.T, service, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	got := ss.named(service, name)
	require.Len(t, got, 1, "%s spans named %q", service, name)
	return got[0]
}

func serviceName(s sdktrace.ReadOnlySpan) string {
	v, _ := s.Resource().Set().Value("service.name")
	return v.AsString()
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}
