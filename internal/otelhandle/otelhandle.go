// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package otelhandle sends the reports of internal/report to otel.Handle. The
// packages of this module that depend on OpenTelemetry import it for that
// effect; asynctrack, which imports no OpenTelemetry module, reports through
// internal/report too.
package otelhandle

import (
	"go.opentelemetry.io/otel"

	"github.com/otelctx/otelctx/internal/report"
)

func init() { report.SetHandler(otel.Handle) }
