// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/exporter"
)

// A span per async resource of a selected type, a child of the span that was
// current where the resource was created.
func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())

	exp := exporter.NewInstrumentation(exporter.WithTracerProvider(tp), exporter.WithSpanTypes("job"))
	defer exp.Shutdown(context.Background())

	ctx, request := tp.Tracer("example").Start(context.Background(), "request")
	job := asynctrack.NewResource(ctx, "job", nil)
	job.Run(func(ctx context.Context) { /* the job's work */ })
	job.Destroy() // ends the job's span
	request.End()

	s := spans.Ended()[0]
	fmt.Println(s.Name(), "is a child of the request:", s.Parent().SpanID() == request.SpanContext().SpanID())
	for _, kv := range s.Attributes() {
		if kv.Key == "async.type" {
			fmt.Println(kv.Key, "=", kv.Value.Emit())
		}
	}
	for _, e := range s.Events() {
		fmt.Println("event", e.Name)
	}
	// Output:
	// job is a child of the request: true
	// async.type = job
	// event async.before
	// event async.after
}

// The live-resource view finds the goroutine a request left behind, and the
// request that started it.
func ExampleInstrumentation_Handler() {
	exp := exporter.NewInstrumentation()
	defer exp.Shutdown(context.Background())

	release, exited := make(chan struct{}), make(chan struct{})
	req := asynctrack.NewResource(context.Background(), "http.request", nil)
	req.Run(func(ctx context.Context) {
		asynctrack.Go(ctx, func(context.Context) {
			defer close(exited)
			<-release // leaked: nobody closes release while the request runs
		})
	})
	req.Destroy() // the request is over

	// What is still running for this request? (Or ?trace_id=..., ?format=text.)
	rec := httptest.NewRecorder()
	exp.Handler().ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/debug/async?id=%d", req.ID()), nil))
	var view struct {
		Resources []struct {
			Type     string
			Triggers []struct {
				Type string
				Live bool
			}
		}
	}
	if err := json.NewDecoder(rec.Body).Decode(&view); err != nil {
		fmt.Println(err)
	}
	for _, r := range view.Resources {
		fmt.Print(r.Type)
		for _, t := range r.Triggers {
			fmt.Printf(" <- %s (live: %t)", t.Type, t.Live)
		}
		fmt.Println()
	}

	close(release)
	<-exited
	// Output:
	// goroutine <- http.request (live: false)
}
