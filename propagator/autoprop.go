// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"go.opentelemetry.io/contrib/propagators/autoprop"
)

// autopropName is the OTEL_PROPAGATORS value that selects this propagator.
const autopropName = "otelctx"

func init() { register() }

// register adds New() to the autoprop registry unless the name is taken.
// autoprop panics on a duplicate name, and the name is taken when this
// package is linked in twice under different import paths (a vendored or
// forked copy): the copy initialised first keeps it. Package initialisation
// is sequential, so nothing can take the name between the check and the
// registration.
func register() {
	if _, err := autoprop.TextMapPropagator(autopropName); err == nil {
		return
	}
	autoprop.RegisterTextMapPropagator(autopropName, New())
}
