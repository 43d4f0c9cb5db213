// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package exporter instruments the async work that asynctrack tracks: it
// shows it as OpenTelemetry spans in the trace that started it, as metrics,
// and on a debug page that answers "what is still running for this
// request". It exports nothing itself: spans and metrics go to the
// TracerProvider and MeterProvider it is given. See the package Example.
//
// An Instrumentation listens to every resource created between
// NewInstrumentation and its Shutdown:
//
//	async := exporter.NewInstrumentation(
//		exporter.WithTracerProvider(tp),
//		exporter.WithMeterProvider(mp),
//		exporter.WithSpanTypes("goroutine", "task", "timer"),
//	)
//	defer async.Shutdown(context.Background())
//	debug.Handle("/debug/async", async.Handler()) // a loopback-only debug mux
//
// # Spans
//
// For the resource types selected by WithSpanTypes (none by default), each
// resource created inside a sampled trace gets a span of kind internal,
// named after its type and the function it runs ("goroutine
// api.(*Server).fetch.func1"), a child of the span current where the
// resource was created, started at creation and ended when the resource is
// destroyed (or by Shutdown, marked async.unfinished=true). Its attributes
// are async.id, async.trigger_id, async.type, async.name and
// async.process.id (IDs are per process; the process ID tells whose); the
// events async.before and async.after bracket each run of its callback. The
// resource's callbacks, and code without a ctx inside them, see its span,
// so the spans started there nest under it: the span tree is the trigger
// tree. At most WithMaxSpansPerTrace spans (1000) are started per trace.
//
// # Metrics
//
// All carry async.type; past 256 distinct types, further types are counted
// together under otel.metric.overflow=true. Counts start at
// NewInstrumentation.
//
//	otelctx.async.resources.live       Int64ObservableUpDownCounter  {resource}  created and not yet destroyed
//	otelctx.async.resources.created    Int64ObservableCounter        {resource}
//	otelctx.async.resources.destroyed  Int64ObservableCounter        {resource}
//	otelctx.async.resource.lifetime    Float64Histogram              s           creation to destruction
//	otelctx.async.spans.dropped        Int64ObservableCounter        {span}      past the per-trace bound
//
// # Live view
//
// Instrumentation.Handler serves the live resources with their trigger
// chains, ages, requests and goroutines, as JSON, text or HTML (its doc
// lists the queries and formats). It tells what runs in the process: mount
// it on a debug listener of its own, bound to a loopback address, never on
// the service's public mux.
//
// # Contracts
//
// An Instrumentation is safe for concurrent use. Its hooks run on the
// goroutine that creates, runs or destroys a resource, cost a few atomic
// operations and one map entry per resource (README's cost table has the
// figures), and never walk a trigger chain. Shutdown ends what is live and
// leaves the providers to their owner.
package exporter

import _ "github.com/otelctx/otelctx/internal/otelhandle" // hook panics reach otel.Handle
