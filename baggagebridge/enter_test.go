// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

// TestSetAfterTheEdge serves 200 concurrent users through otelhttp and
// Middleware, with an auth middleware behind them that learns the user
// from the request and Sets it. Everything the request does afterwards
// sees that user ambiently, whoever started it and however: the handler's
// goroutine, a goroutine started before the Set, a plain go statement,
// errgroup, asynctrack.Go, a log record without a ctx, and the request's
// server span as exported. A With for one sub-call changes nothing else;
// work under Exit or from context.Background() sees no user.
func TestSetAfterTheEdge(t *testing.T) {
	requireAmbient(t)
	const users = 200
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(
		baggagebridge.WrapSpanProcessor(rec, baggagebridge.WithKeys("user.id"))))
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	logger, lines := jsonLogger(t, baggagebridge.WithKeys("user.id"))

	var (
		mu      sync.Mutex
		wrong   []string // lookups that saw another value than their request's
		lookups int
	)
	check := func(user, place string, want bool) {
		got, ok := baggagebridge.Current("user.id")
		mu.Lock()
		defer mu.Unlock()
		lookups++
		switch {
		case want && (!ok || got != user):
			wrong = append(wrong, fmt.Sprintf("%s of %s saw %q", place, user, got))
		case !want && ok:
			wrong = append(wrong, fmt.Sprintf("%s of %s saw %q, want nothing", place, user, got))
		}
	}

	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			set := make(chan struct{})
			done := make(chan struct{})
			go func() { // started before the value exists
				defer close(done)
				<-set
				check(user, "goroutine started before Set", true)
			}()
			ctx, err := baggagebridge.Set(r.Context(), "user.id", user)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			close(set)
			next.ServeHTTP(w, r.WithContext(ctx))
			<-done
		})
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		user, _ := baggagebridge.Get(ctx, "user.id")
		check(user, "handler", true)
		logger.Info("no ctx")

		other, err := baggagebridge.With(ctx, "user.id", "other-tenant")
		require.NoError(t, err)
		if v, _ := baggagebridge.Get(other, "user.id"); v != "other-tenant" {
			check(user, "With's ctx", false)
		}
		check(user, "after With", true)

		var wg sync.WaitGroup
		wg.Go(func() { check(user, "plain go", true) })
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { check(user, "errgroup", true); return gctx.Err() })
		wg.Add(2)
		asynctrack.Go(ctx, func(context.Context) { defer wg.Done(); check(user, "asynctrack.Go", true) })
		asynctrack.Go(context.Background(), func(context.Context) { defer wg.Done(); check(user, "Go from Background", false) })
		asynctrack.Exit(ctx, func(context.Context) {
			check(user, "Exit", false)
			wg.Go(func() { check(user, "plain go under Exit", false) })
		})
		wg.Wait()
		require.NoError(t, g.Wait())
		w.Header().Set("Trace-Id", trace.SpanContextFromContext(ctx).TraceID().String())
	})
	// README's order: otelhttp outside, Middleware inside; the auth
	// middleware behind both.
	srv := httptest.NewServer(otelhttp.NewHandler(baggagebridge.Middleware(
		baggagebridge.WithPropagator(propagation.TraceContext{}))(auth(handler)), "api",
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagation.TraceContext{})))
	defer srv.Close()

	traceUser := make(map[string]string, users)
	var tmu sync.Mutex
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			user := fmt.Sprintf("user-%03d", i)
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			if !assert.NoError(t, err) {
				return
			}
			req.Header.Set("Authorization", "Bearer "+user)
			resp, err := srv.Client().Do(req)
			if !assert.NoError(t, err) {
				return
			}
			_ = resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			tmu.Lock()
			traceUser[resp.Header.Get("Trace-Id")] = user
			tmu.Unlock()
		})
	}
	wg.Wait()
	srv.Client().CloseIdleConnections()

	assert.Empty(t, wrong, "%d of %d lookups wrong", len(wrong), lookups)
	assert.Equal(t, users*9, lookups)
	require.Len(t, traceUser, users)

	logged := 0
	for _, l := range lines() {
		if l["msg"] != "no ctx" {
			continue
		}
		logged++
		assert.Equal(t, traceUser[fmt.Sprint(l["trace_id"])], l["user.id"], "a log line without a ctx carries its request's user")
	}
	assert.Equal(t, users, logged)

	servers := 0
	for _, s := range rec.Ended() {
		if s.SpanKind() != trace.SpanKindServer {
			continue
		}
		servers++
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.Emit()
		}
		assert.Equal(t, traceUser[s.SpanContext().TraceID().String()], attrs["user.id"],
			"the server span, started before the user was known, carries its own request's user")
	}
	assert.Equal(t, users, servers)
}

// TestSetKeepsScopeShallow checks that a scope given a value many times
// (a long-lived worker setting one per job) shows a context no deeper than
// after the first, and that Delete ends what Set began.
func TestSetKeepsScopeShallow(t *testing.T) {
	requireAmbient(t)
	asynctrack.Run(context.Background(), func(ctx context.Context) {
		_, err := baggagebridge.Set(ctx, "job", "0000")
		require.NoError(t, err)
		first := len(fmt.Sprint(asynctrack.Ambient()))
		for i := range 10000 {
			_, err = baggagebridge.Set(ctx, "job", fmt.Sprintf("%04d", i))
			require.NoError(t, err)
		}
		assert.Len(t, fmt.Sprint(asynctrack.Ambient()), first)
		v, ok := baggagebridge.Current("job")
		assert.True(t, ok)
		assert.Equal(t, "9999", v)

		baggagebridge.Delete(ctx, "job")
		_, ok = baggagebridge.Current("job")
		assert.False(t, ok)
	})
	_, ok := baggagebridge.Current("job")
	assert.False(t, ok, "nothing outside the scope")
}
