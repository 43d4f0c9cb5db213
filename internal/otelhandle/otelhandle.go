// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package otelhandle sends the errors asynctrack cannot return to a caller
// to otel.Handle. The packages of this module that depend on OpenTelemetry
// import it for that effect; asynctrack itself imports no OpenTelemetry
// module.
package otelhandle

import (
	"go.opentelemetry.io/otel"

	"github.com/otelctx/otelctx/asynctrack"
)

func init() { asynctrack.SetErrorHandler(otel.Handle) }
