package propagator

import (
	"fmt"

	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"
)

// autopropName is the OTEL_PROPAGATORS value that selects this propagator.
const autopropName = "otelctx"

func init() { register() }

// register adds New() to the autoprop registry. autoprop panics on a
// duplicate name, which happens when this package is linked in twice under
// different import paths (a vendored or forked copy): then the first copy
// keeps the name and this one only reports why it did not register.
func register() {
	if p, err := autoprop.TextMapPropagator(autopropName); err == nil && p != nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			otel.Handle(fmt.Errorf("propagator: registering %q with autoprop: %v", autopropName, r))
		}
	}()
	autoprop.RegisterTextMapPropagator(autopropName, New())
}
