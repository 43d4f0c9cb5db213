// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package autoprop registers the otelctx propagator, configured from the
// environment, with go.opentelemetry.io/contrib/propagators/autoprop under
// the name "otelctx". Import it for that effect, as a database/sql driver:
//
//	import _ "github.com/otelctx/otelctx/propagator/autoprop"
//
//	otel.SetTextMapPropagator(autoprop.NewTextMapPropagator()) // OTEL_PROPAGATORS=otelctx
//
// The propagator is propagator.New(propagator.WithEnv()): its policy comes
// from the OTELCTX_* variables (see the propagator package), read when it is
// first used, so that what they hold wrong is reported through the error
// handler the application installs in main. Importing the package does
// nothing else. To register a propagator configured in code instead, do not
// import this package and call autoprop.RegisterTextMapPropagator("otelctx",
// p) yourself.
//
// Names in OTEL_PROPAGATORS are matched as contrib's autoprop matches them,
// exactly: " otelctx " or "OTELCTX" name no propagator, and autoprop falls
// back to the stock tracecontext,baggage. When the OTELCTX_* variables are
// set but no otelctx propagator reads them, the first request through the
// otelctx middleware, transport or gRPC server options reports it through
// otel.Handle, with the fix; and the stock "baggage" propagator beside
// otelctx (OTEL_PROPAGATORS=otelctx,baggage), which accepts and sends every
// member past the policy, is reported when the propagator is first used.
package autoprop

import (
	"go.opentelemetry.io/contrib/propagators/autoprop"

	"github.com/otelctx/otelctx/propagator"
)

// Name is the OTEL_PROPAGATORS value that selects the propagator.
const Name = "otelctx"

func init() { register() }

// register adds New(WithEnv()) to the autoprop registry unless the name is
// taken: autoprop panics on a duplicate, and the name is taken when the
// package is linked in twice under different import paths (a vendored copy)
// or when the program registered its own. Package initialisation is
// sequential, so nothing takes the name between the check and the
// registration.
func register() {
	if _, err := autoprop.TextMapPropagator(Name); err == nil {
		return
	}
	autoprop.RegisterTextMapPropagator(Name, propagator.New(propagator.WithEnv()))
}
