// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

// w3c is the propagator the tests configure explicitly, leaving the global
// one alone.
var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// get sends a GET to url with the headers kv (name, value, ...) through c
// and returns the body.
func get(t *testing.T, c *http.Client, url string, kv ...string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	return string(body)
}

// newClient returns a client with a transport of its own, closed with t.
func newClient(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	var rt http.RoundTripper = tr
	if wrap != nil {
		rt = wrap(tr)
	}
	return &http.Client{Transport: rt}
}

// TestMiddlewareKeepAlive sends several requests over one keep-alive
// connection: each gets a resource of its own, and the connection's
// goroutine is back in its own scope after each.
func TestMiddlewareKeepAlive(t *testing.T) {
	requireAmbient(t)
	var (
		mu       sync.Mutex
		ids      []uint64
		problems []string
		inits    = map[uint64]string{}
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	hook := asynctrack.NewHook(asynctrack.HookFuncs{
		Init: func(_ context.Context, id uint64, typ string, _ uint64, _ any) {
			if typ == baggagebridge.TypeHTTPRequest {
				mu.Lock()
				inits[id] = typ
				mu.Unlock()
			}
		},
	}).Enable()
	defer hook.Disable()

	conn := asynctrack.NewStore[string]()
	inner := baggagebridge.Middleware(
		baggagebridge.WithPropagators(w3c),
		baggagebridge.WithProfileLabels("req"), // a pprof.Do inside the scope, restored too
	)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := asynctrack.ExecutionID(r.Context())
		if asynctrack.ExecutionID(asynctrack.Ambient()) != id {
			problem("ambient execution %d, ctx %d", asynctrack.ExecutionID(asynctrack.Ambient()), id)
		}
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		v, _ := baggagebridge.Current("req")
		if l, _ := pprof.Label(r.Context(), "req"); l != v {
			problem("profile label %q, value %q", l, v)
		}
		_, _ = io.WriteString(w, v)
	}))
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if asynctrack.ExecutionID(asynctrack.Ambient()) != 0 {
			problem("connection goroutine in execution %d before the request", asynctrack.ExecutionID(asynctrack.Ambient()))
		}
		// A scope of the connection's own, which each request must restore.
		conn.Run(r.Context(), "connection", func(context.Context) {
			inner.ServeHTTP(w, r)
			if v, ok := conn.Current(); !ok || v != "connection" {
				problem("connection scope not restored: %q %v", v, ok)
			}
		})
		if id := asynctrack.ExecutionID(asynctrack.Ambient()); id != 0 {
			problem("connection goroutine left in execution %d", id)
		}
	})

	var newConns int
	srv := httptest.NewUnstartedServer(outer)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			newConns++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()

	c := newClient(t, nil)
	const n = 5
	reused := 0
	for i := range n {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/keepalive", nil)
		require.NoError(t, err)
		req.Header.Set("baggage", fmt.Sprintf("req=r%d", i))
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				if info.Reused {
					reused++
				}
			},
		}))
		resp, err := c.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, fmt.Sprintf("r%d", i), string(body))
	}

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, newConns, "one connection")
	assert.Equal(t, n-1, reused, "reused for every later request")
	assert.Empty(t, problems)
	require.Len(t, ids, n)
	seen := map[uint64]bool{}
	for _, id := range ids {
		assert.NotZero(t, id)
		assert.False(t, seen[id], "resource %d used twice", id)
		seen[id] = true
		assert.Equal(t, baggagebridge.TypeHTTPRequest, inits[id], "resource %d", id)
	}
	assert.Len(t, inits, n, "one resource per request")
}

// legacyUserID is a propagator with a trust policy of its own: it maps the
// userid header to the user.id baggage key and ignores the baggage header.
type legacyUserID struct{}

func (legacyUserID) Inject(context.Context, propagation.TextMapCarrier) {}
func (legacyUserID) Fields() []string                                   { return nil }
func (legacyUserID) Extract(ctx context.Context, c propagation.TextMapCarrier) context.Context {
	v := c.Get("userid")
	if v == "" {
		return ctx
	}
	m, err := baggage.NewMemberRaw("user.id", v)
	if err != nil {
		return ctx
	}
	bag, err := baggage.FromContext(ctx).SetMember(m)
	if err != nil {
		return ctx
	}
	return baggage.ContextWithBaggage(ctx, bag)
}

// TestMiddlewarePropagatorDecides checks that inbound values come from the
// propagator only: headers it does not accept never become values.
func TestMiddlewarePropagatorDecides(t *testing.T) {
	requireAmbient(t)
	echo := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		v, ok := baggagebridge.Current("user.id")
		_, _ = fmt.Fprintf(w, "%s %v", v, ok)
	})
	for _, tc := range []struct {
		name    string
		prop    propagation.TextMapPropagator
		headers []string
		want    string
	}{
		{"w3c baggage", w3c, []string{"baggage", "user.id=42"}, "42 true"},
		{"w3c ignores legacy header", w3c, []string{"userid", "7"}, " false"},
		{"trace context only", propagation.TraceContext{}, []string{"baggage", "user.id=42", "userid", "7"}, " false"},
		{"legacy mapping", legacyUserID{}, []string{"userid", "7"}, "7 true"},
		{"legacy ignores baggage", legacyUserID{}, []string{"baggage", "user.id=42"}, " false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(baggagebridge.Middleware(baggagebridge.WithPropagators(tc.prop))(echo))
			defer srv.Close()
			assert.Equal(t, tc.want, get(t, newClient(t, nil), srv.URL, tc.headers...))
		})
	}
}

// TestMiddlewareProfileLabels checks that the selected values label the
// request's goroutines and that asynctrack's ambient lookups keep working
// under them.
func TestMiddlewareProfileLabels(t *testing.T) {
	requireAmbient(t)
	type result struct {
		label, current, inGo, inTracked string
		labelOK                         bool
		exec, execInGo                  uint64
		profile                         string
	}
	results := make(chan result, 1)
	h := baggagebridge.Middleware(
		baggagebridge.WithPropagators(w3c),
		baggagebridge.WithProfileLabels("user.id", "absent"),
	)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var res result
		res.label, res.labelOK = pprof.Label(ctx, "user.id")
		res.current, _ = baggagebridge.Current("user.id")
		res.exec = asynctrack.ExecutionID(ctx)

		started, release := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { // a plain go statement
			defer wg.Done()
			res.inGo, _ = baggagebridge.Current("user.id")
			res.execInGo = asynctrack.ExecutionID(asynctrack.Ambient())
			started <- struct{}{}
			<-release
		}()
		asynctrack.Go(ctx, func(context.Context) {
			defer wg.Done()
			res.inTracked, _ = baggagebridge.Current("user.id")
			started <- struct{}{}
			<-release
		})
		<-started
		<-started
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		close(release)
		wg.Wait()
		res.profile = buf.String()
		results <- res
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	get(t, newClient(t, nil), srv.URL, "baggage", "user.id=42,other=x")

	res := <-results
	assert.True(t, res.labelOK)
	assert.Equal(t, "42", res.label)
	assert.Equal(t, "42", res.current)
	assert.Equal(t, "42", res.inGo)
	assert.Equal(t, "42", res.inTracked)
	assert.NotZero(t, res.exec)
	assert.Equal(t, res.exec, res.execInGo)
	// The handler's goroutine and the two it started carry both labels.
	labelled := 0
	for line := range strings.SplitSeq(res.profile, "\n") {
		if strings.Contains(line, "# labels:") && strings.Contains(line, `"user.id":"42"`) &&
			strings.Contains(line, `"otelctx":`) {
			labelled++
		}
	}
	assert.GreaterOrEqual(t, labelled, 3, res.profile)
	assert.NotContains(t, res.profile, `"other":`, "only the keys asked for")
}

// TestMiddlewareProfileLabelsOptions checks that profile labels are named and
// hidden by the Options given to Middleware, as span attributes are.
func TestMiddlewareProfileLabelsOptions(t *testing.T) {
	labels := make(chan map[string]string, 1)
	// The Options that select and show values for spans are MiddlewareOptions too.
	opts := []baggagebridge.MiddlewareOption{
		baggagebridge.WithPropagators(w3c),
		baggagebridge.WithProfileLabels("t.tenant", "t.secret"),
		baggagebridge.WithRedacted("t.secret"),
		baggagebridge.WithAttributePrefix("app."),
	}
	h := baggagebridge.Middleware(opts...)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got := map[string]string{}
		pprof.ForLabels(r.Context(), func(k, v string) bool {
			if k != "otelctx" {
				got[k] = v
			}
			return true
		})
		labels <- got
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	get(t, newClient(t, nil), srv.URL, "baggage", "t.tenant=a,t.secret=s,other=x")

	assert.Equal(t, map[string]string{"app.t.tenant": "a", "app.t.secret": "REDACTED"}, <-labels)
}

// TestNilOptionsIgnored checks that a nil Option or MiddlewareOption is
// ignored, as otelhttp ignores nil options, and that WithPropagators(nil)
// leaves the global propagator in place.
func TestNilOptionsIgnored(t *testing.T) {
	require.NotPanics(t, func() {
		baggagebridge.NewSpanProcessor(nil, baggagebridge.WithKeys("user.id"))
		baggagebridge.NewLogProcessor(nil)
		baggagebridge.NewLogHandler(slog.NewTextHandler(io.Discard, nil), nil)
	})
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.Baggage{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	got := make(chan string, 1)
	h := baggagebridge.Middleware(nil, baggagebridge.WithPropagators(nil), baggagebridge.Option(nil))(
		http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			v, _ := baggagebridge.Get(r.Context(), "user.id")
			got <- v
		}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("baggage", "user.id=42")
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.Equal(t, "42", <-got, "the global propagator extracts")
}

// TestMiddlewarePanic checks that a panicking handler leaves the calling
// goroutine in its own scope.
func TestMiddlewarePanic(t *testing.T) {
	h := baggagebridge.Middleware(baggagebridge.WithPropagators(w3c))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("baggage", "user.id=42")
	func() {
		defer func() { assert.Equal(t, "boom", recover()) }()
		h.ServeHTTP(httptest.NewRecorder(), req)
	}()
	assert.Zero(t, asynctrack.ExecutionID(asynctrack.Ambient()))
	_, ok := baggagebridge.Current("user.id")
	assert.False(t, ok)
}

func TestMiddlewareHandsBackThePattern(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(http.ResponseWriter, *http.Request) {})
	var pattern string
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		baggagebridge.Middleware()(mux).ServeHTTP(w, r)
		pattern = r.Pattern // what otelhttp reads to name the span
	})
	outer.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/users/7", nil))
	assert.Equal(t, "GET /users/{id}", pattern)
}
