// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package baggagebridge keeps a request's values where OpenTelemetry and
// asynctrack can both reach them: set a value once at the edge of a
// request, read it anywhere in the request's work — in any goroutine it
// started, in code that takes no ctx, in the next service — and see it on
// spans and log lines.
//
// # Values
//
// Propagated values are W3C baggage members of the context's
// go.opentelemetry.io/otel/baggage, so every propagator and otelhttp carries
// them. Set validates them (an invalid key or value is an error, never a
// member the header silently leaves out), keeps the baggage within the W3C
// limits and leaves the encoding to the propagator; Get reads them from a
// ctx, Current from code that holds none, Delete removes them. A value
// extracted from an inbound request reads exactly like one set here.
//
// Local values are typed Go values that never leave the process: a Local
// (an asynctrack.Store) holds one per scope of work.
//
// Set and Local.With return a new context. Code that holds it sees the
// values, and so does work started from it through asynctrack; to make
// them ambient for code without a ctx, run that code through
// asynctrack.Run(ctx, fn).
//
// # HTTP
//
// Middleware runs each request in an asynctrack resource of type
// "http.request", so that every goroutine of the request sees its values,
// and extracts inbound values through the propagator, whose trust policy
// decides which headers become values. Outbound requests through
// otelhttp.NewTransport carry the propagated values.
//
// # Telemetry
//
// A SpanProcessor copies selected values onto spans, as they start
// (NewSpanProcessor) or, wrapping the exporting processor, onto the spans
// it exports (WrapSpanProcessor), which costs a span's start far less; a
// LogHandler adds them and the span IDs to slog records (and, through its
// Source, module otelctxzap to zap's entries), a LogProcessor to the
// records of OpenTelemetry's Logs SDK, and Middleware can put them on the
// request's goroutines as pprof labels. The same options select values for
// all of them (WithKeys, WithKeyPrefixes), name them (WithAttributePrefix)
// and hide sensitive ones (WithRedacted, WithHashed).
package baggagebridge

import _ "github.com/otelctx/otelctx/internal/otelhandle" // hook panics reach otel.Handle
