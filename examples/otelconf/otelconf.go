// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package otelconf sets up otelctx from a declarative OpenTelemetry
// configuration file (go.opentelemetry.io/contrib/otelconf): the file
// selects the "otelctx" propagator by name, the OTELCTX_* variables hold its
// policy, and the bridge's span and log processors are added through
// otelconf's provider options, ahead of the file's exporting processors.
package otelconf

import (
	"fmt"
	"os"

	"go.opentelemetry.io/contrib/otelconf"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelctx/otelctx/baggagebridge"
	_ "github.com/otelctx/otelctx/propagator/autoprop" // registers "otelctx" for the file's propagator
)

// Setup reads the configuration file at path and returns the SDK it
// describes, with the bridge's processors selecting keys, and whatever
// extra tracer and logger provider options are given (ahead of the file's
// processors, as the bridge's are).
func Setup(path string, keys []string, tp []sdktrace.TracerProviderOption, lp []sdklog.LoggerProviderOption) (otelconf.SDK, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return otelconf.SDK{}, err
	}
	cfg, err := otelconf.ParseYAML(b)
	if err != nil {
		return otelconf.SDK{}, fmt.Errorf("otelconf: %s: %w", path, err)
	}
	return otelconf.NewSDK(
		otelconf.WithOpenTelemetryConfiguration(*cfg),
		otelconf.WithTracerProviderOptions(append([]sdktrace.TracerProviderOption{
			sdktrace.WithSpanProcessor(baggagebridge.NewSpanProcessor(baggagebridge.WithKeys(keys...))),
		}, tp...)...),
		otelconf.WithLoggerProviderOptions(append([]sdklog.LoggerProviderOption{
			sdklog.WithProcessor(baggagebridge.NewLogProcessor(baggagebridge.WithKeys(keys...))),
		}, lp...)...),
	)
}
