// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

// thirdParty is a library that dropped its caller's ctx: it starts its
// span from context.Background() on a goroutine of its own.
func thirdParty(tp trace.TracerProvider, name string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, span := tp.Tracer("thirdparty").Start(context.Background(), name)
		span.End()
	}()
	<-done
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	v, _ := spanAttr(s, key)
	return v
}

// TestAmbientTracerProvider: a span started without the request's ctx
// joins the request's trace under its span, with its values; one started
// from a ctx of its own, under Exit, from a root asynctrack.Go or after the
// request ended stays where its ctx puts it.
func TestAmbientTracerProvider(t *testing.T) {
	requireAmbient(t)
	rec := tracetest.NewSpanRecorder()
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(
		baggagebridge.WrapSpanProcessor(rec, baggagebridge.WithKeys("user.id"))))
	defer func() { require.NoError(t, sdk.Shutdown(context.Background())) }()
	tp := baggagebridge.AmbientTracerProvider(sdk)

	_, other := sdk.Tracer("test").Start(context.Background(), "other request")
	other.End()
	ctx := withValues(t, context.Background(), "user.id", "alice")
	ctx, request := sdk.Tracer("test").Start(ctx, "request")
	release, after := make(chan struct{}), make(chan struct{})
	asynctrack.Run(ctx, func(ctx context.Context) {
		thirdParty(tp, "joins")
		thirdParty(sdk, "control: the SDK alone")
		_, s := tp.Tracer("test").Start(trace.ContextWithSpan(context.Background(), other), "own ctx")
		s.End()
		asynctrack.Exit(ctx, func(context.Context) { thirdParty(tp, "under Exit") })
		done := make(chan struct{})
		asynctrack.Go(context.Background(), func(context.Context) { defer close(done); thirdParty(tp, "root Go") })
		<-done
		go func() { // outlives the request
			defer close(after)
			<-release
			thirdParty(tp, "after the request")
		}()
	})
	request.End()
	close(release)
	<-after

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byName[s.Name()] = s
	}
	joined := byName["joins"]
	require.NotNil(t, joined)
	assert.Equal(t, request.SpanContext().TraceID(), joined.SpanContext().TraceID())
	assert.Equal(t, request.SpanContext().SpanID(), joined.Parent().SpanID(), "under the request's span")
	assert.Equal(t, "alice", attr(joined, "user.id"), "with the request's values")

	assert.Equal(t, other.SpanContext().SpanID(), byName["own ctx"].Parent().SpanID(), "a ctx with a span is used alone")
	assert.Empty(t, attr(byName["own ctx"], "user.id"), "and nothing of the ambient request is added")
	for _, name := range []string{"control: the SDK alone", "under Exit", "root Go", "after the request"} {
		s := byName[name]
		require.NotNil(t, s, name)
		assert.False(t, s.Parent().IsValid(), "%s: a root", name)
		assert.Empty(t, attr(s, "user.id"), name)
	}
}

// TestAmbientTracerProviderConcurrent serves 200 concurrent requests whose
// handlers call a library that starts spans without their ctx: every such
// span is in its own request's trace, under its server span.
func TestAmbientTracerProviderConcurrent(t *testing.T) {
	requireAmbient(t)
	const requests = 200
	rec := tracetest.NewSpanRecorder()
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(
		baggagebridge.WrapSpanProcessor(rec, baggagebridge.WithKeys("user.id"))))
	defer func() { require.NoError(t, sdk.Shutdown(context.Background())) }()
	tp := baggagebridge.AmbientTracerProvider(sdk)

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := baggagebridge.Set(r.Context(), "user.id", r.URL.Query().Get("user"))
		require.NoError(t, err)
		thirdParty(tp, "library")
	})
	srv := httptest.NewServer(otelhttp.NewHandler(baggagebridge.Middleware(
		baggagebridge.WithPropagators(propagation.TraceContext{}))(handler), "api",
		otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(propagation.TraceContext{})))
	defer srv.Close()
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			resp, err := srv.Client().Get(fmt.Sprintf("%s/?user=u%03d", srv.URL, i))
			if assert.NoError(t, err) {
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()
	srv.Client().CloseIdleConnections()

	servers := map[trace.TraceID]sdktrace.ReadOnlySpan{}
	var libs []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			servers[s.SpanContext().TraceID()] = s
		} else if s.Name() == "library" {
			libs = append(libs, s)
		}
	}
	require.Len(t, servers, requests)
	require.Len(t, libs, requests)
	for _, l := range libs {
		server := servers[l.SpanContext().TraceID()]
		require.NotNil(t, server, "a library span in a trace of its own")
		assert.Equal(t, server.SpanContext().SpanID(), l.Parent().SpanID())
		assert.NotEmpty(t, attr(l, "user.id"))
		assert.Equal(t, attr(server, "user.id"), attr(l, "user.id"), "its own request's user")
	}
}
