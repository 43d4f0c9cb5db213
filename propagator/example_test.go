// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/propagator"
	_ "github.com/otelctx/otelctx/propagator/autoprop"
)

func ExampleNew() {
	p := propagator.New(
		propagator.WithIngressAllow("tenant.id", "request.id"),
		propagator.WithEgress(propagator.EgressRule{
			Hosts: []string{"*.svc.cluster.local"},
			Keys:  []string{"tenant.id", "request.id"},
		}),
	)
	otel.SetTextMapPropagator(p)

	// An inbound request: only allowlisted keys are extracted.
	in := propagation.HeaderCarrier(http.Header{})
	in.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	in.Set("baggage", "tenant.id=acme,user.role=admin,request.id=r-1")
	ctx := p.Extract(context.Background(), in)
	fmt.Println("extracted:", baggage.FromContext(ctx).Len(), "members; role:", baggage.FromContext(ctx).Member("user.role").Value() == "")

	// An outbound call inside the cluster gets the baggage, one elsewhere
	// only the trace context. NewTransport does this for HTTP clients; for
	// other transports, write the baggage where the destination is known.
	for _, host := range []string{"orders.svc.cluster.local", "api.example.com"} {
		out := propagation.HeaderCarrier(http.Header{})
		p.Inject(ctx, out)
		if err := propagator.InjectBaggage(ctx, p, out, host); err != nil {
			fmt.Println(err)
		}
		fmt.Printf("%s: traceparent=%t baggage=%q\n", host, out.Get("traceparent") != "", out.Get("baggage"))
	}
	// Output:
	// extracted: 2 members; role: true
	// orders.svc.cluster.local: traceparent=true baggage="request.id=r-1,tenant.id=acme"
	// api.example.com: traceparent=true baggage=""
}

func ExampleNew_autoprop() {
	// With propagator/autoprop imported, OTEL_PROPAGATORS=otelctx selects
	// New(WithEnv()).
	os.Setenv("OTEL_PROPAGATORS", "otelctx")
	defer os.Unsetenv("OTEL_PROPAGATORS")
	p := autoprop.NewTextMapPropagator()

	in := propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	sc := trace.SpanContextFromContext(p.Extract(context.Background(), in))
	fmt.Println(sc.TraceID(), p.Fields())
	// Output: 4bf92f3577b34da6a3ce929d0e0e4736 [traceparent tracestate baggage]
}

func ExampleNewTransport() {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "baggage=%q", r.Header.Get("baggage"))
	}))
	defer echo.Close()

	p := propagator.New(propagator.WithEgress(propagator.EgressRule{
		Hosts: []string{echo.Listener.Addr().String()},
		Keys:  []string{"tenant.id"},
	}))
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	// NewTransport innermost: whatever otelhttp injected, it writes the
	// baggage for the host the request is sent to.
	client := &http.Client{Transport: otelhttp.NewTransport(propagator.NewTransport(base, p), otelhttp.WithPropagators(p))}

	b, _ := baggage.Parse("tenant.id=acme,session=s3cr3t")
	ctx := baggage.ContextWithBaggage(context.Background(), b)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, echo.URL, nil)
	res, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Println(string(body))
	// Output: baggage="tenant.id=acme"
}

func ExampleContextWithPublicEndpoint() {
	// Internal callers may send any key, callers from the internet only
	// request.id.
	p := propagator.New(propagator.WithPublicAllow("request.id"))
	isPublic := func(r *http.Request) bool { return r.URL.Path == "/api" }
	app := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		fmt.Printf("%s: %d members\n", r.URL.Path, baggage.FromContext(r.Context()).Len())
	})
	// The same predicate starts a new trace in otelhttp and restricts
	// baggage here.
	traced := otelhttp.NewHandler(app, "edge", otelhttp.WithPropagators(p), otelhttp.WithPublicEndpointFn(isPublic))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPublic(r) {
			r = r.WithContext(propagator.ContextWithPublicEndpoint(r.Context()))
		}
		traced.ServeHTTP(w, r)
	})

	for _, path := range []string{"/api", "/internal"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("baggage", "request.id=r-1,tenant.id=forged")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	// Output:
	// /api: 1 members
	// /internal: 2 members
}

func ExampleWithLegacyHeader() {
	p := propagator.New(propagator.WithLegacyHeader("x-request-id", "request.id"))
	in := propagation.HeaderCarrier(http.Header{})
	in.Set("X-Request-Id", "9f2c")
	fmt.Println(baggage.FromContext(p.Extract(context.Background(), in)).Member("request.id").Value())
	// Output: 9f2c
}

// A local test dials 127.0.0.1 while the rule grants *.internal: the
// server gets no user.id, and WithDebugDrops says why.
func ExampleWithDebugDrops() {
	prev := slog.Default()
	defer slog.SetDefault(prev)
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // a stable output for the example
			}
			return a
		},
	})))

	p := propagator.New(propagator.WithDebugDrops(),
		propagator.WithEgress(propagator.EgressRule{Hosts: []string{"*.internal"}, Keys: []string{"user.id"}}))
	m, _ := baggage.NewMemberRaw("user.id", "42")
	b, _ := baggage.New(m)
	ctx := baggage.ContextWithBaggage(context.Background(), b)
	_ = propagator.InjectBaggage(ctx, p, propagation.MapCarrier{}, "127.0.0.1:8080") // as NewTransport does
	// Output:
	// level=DEBUG msg="otelctx: outbound baggage member withheld" key=user.id destination=127.0.0.1:8080 reason=egress.denied rule="no egress rule (WithEgress, OTELCTX_EGRESS) grants the key to this destination"
}
