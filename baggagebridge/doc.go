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
// Set is Node.js's AsyncLocalStorage.enterWith: the value holds, from then
// on, for the rest of the work ctx belongs to, its goroutines and code
// without a ctx included (Set says exactly what sees it). With changes the
// returned context only, for one call made on behalf of someone else.
//
// A value that must never leave the process belongs in an asynctrack.Store,
// which carries typed Go values the same way; this package never reads one.
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
// it exports (WrapSpanProcessor), which costs a span's start far less and
// never takes the place of an attribute of the span's own; a LogHandler adds
// them and the span IDs to slog records (and, through its Source, module
// otelctxzap to zap's entries), a LogProcessor to the records of
// OpenTelemetry's Logs SDK, and Middleware can put them on the request's
// goroutines as pprof labels. The same options select values for all of
// them (WithKeys, WithKeyPrefixes), name them (WithAttributePrefix) and hide
// sensitive ones (WithRedacted, WithHashed).
package baggagebridge

import _ "github.com/otelctx/otelctx/internal/otelhandle" // reports (hook panics too) reach otel.Handle
