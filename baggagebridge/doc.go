// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package baggagebridge makes a request's values (user ID, tenant) readable
// anywhere in the request's work and visible on its telemetry: set a value
// once at the edge of a request, read it in any goroutine the request
// started, in code that takes no ctx and in the next service, and see it on
// spans, log records and profiles. See the package Example for a service's
// setup.
//
// A value is a W3C baggage member of the context's
// go.opentelemetry.io/otel/baggage, so every propagator and otelhttp carry
// it, and one extracted from an inbound request reads like one set here.
// Set makes a value hold for the rest of the request's work (Node.js's
// AsyncLocalStorage.enterWith; see asynctrack for scopes), With for one
// call only, Delete removes one; Get reads one from a ctx, Current from the
// ambient scope, for code that holds no ctx. A value that must never leave
// the process belongs in an asynctrack.Store.
//
// Middleware runs each HTTP request in an asynctrack resource of its own and
// extracts inbound values through the propagator, whose trust policy
// decides which headers become values. NewSpanProcessor or
// WrapSpanProcessor (spans), NewLogHandler (slog) and NewLogProcessor (the
// Logs SDK) add the values that the same Options select and show:
// WithKeys, WithKeyPrefixes, WithAttributePrefix, WithRedacted, WithHashed,
// WithMaxAttributes. Middleware takes them too, with options of its own
// (MiddlewareOption: WithPropagators, WithProfileLabels for pprof labels).
// AmbientTracerProvider makes spans started without a ctx join the ambient
// request.
//
// Everything in this package is safe for concurrent use. Set, With, Delete,
// Get and Current run on the calling goroutine; processors and handlers run
// where the SDK or slog calls them, Middleware's on the request's goroutine.
package baggagebridge

import _ "github.com/otelctx/otelctx/internal/otelhandle" // reports (hook panics too) reach otel.Handle
