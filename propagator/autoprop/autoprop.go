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
// from the OTELCTX_* variables (see the propagator package). To register a
// propagator configured in code instead, do not import this package and
// call autoprop.RegisterTextMapPropagator("otelctx", p) yourself.
//
// The stock "baggage" propagator beside it (OTEL_PROPAGATORS=otelctx,baggage)
// would send every baggage member everywhere, past the egress policy: that
// is reported through otel.Handle when this package is initialised.
package autoprop

import (
	"errors"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"

	"github.com/otelctx/otelctx/propagator"
)

// Name is the OTEL_PROPAGATORS value that selects the propagator.
const Name = "otelctx"

func init() { register(os.Getenv("OTEL_PROPAGATORS")) }

// register adds New(WithEnv()) to the autoprop registry unless the name is
// taken: autoprop panics on a duplicate, and the name is taken when the
// package is linked in twice under different import paths (a vendored copy)
// or when the program registered its own. Package initialisation is
// sequential, so nothing takes the name between the check and the
// registration.
func register(propagators string) {
	warnStockBaggage(propagators)
	if _, err := autoprop.TextMapPropagator(Name); err == nil {
		return
	}
	autoprop.RegisterTextMapPropagator(Name, propagator.New(propagator.WithEnv()))
}

func warnStockBaggage(propagators string) {
	var ours, stock bool
	for p := range strings.SplitSeq(propagators, ",") {
		switch strings.TrimSpace(p) {
		case Name:
			ours = true
		case "baggage":
			stock = true
		}
	}
	if ours && stock {
		otel.Handle(errors.New(`propagator: OTEL_PROPAGATORS composes the stock "baggage" propagator beside "otelctx": ` +
			`it sends every baggage member to every destination, past the egress policy; drop "baggage" from the list`))
	}
}
