// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelctx/otelctx/otelctxgrpc"
)

func TestDestination(t *testing.T) {
	for target, want := range map[string]string{
		"billing:50051":                    "billing:50051",
		"127.0.0.1:50051":                  "127.0.0.1:50051",
		"[::1]:50051":                      "[::1]:50051",
		"localhost":                        "localhost",
		"dns:///billing.svc:443":           "billing.svc:443",
		"DNS:///billing.svc:443":           "billing.svc:443",
		"dns://8.8.8.8:53/billing.svc:443": "billing.svc:443",
		"dns:billing.svc:443":              "billing.svc:443",
		"passthrough:///10.0.0.1:8080":     "10.0.0.1:8080",
		"passthrough:10.0.0.1:8080":        "10.0.0.1:8080",
		"passthrough:///a%2Eb:1":           "a.b:1",
		"unix:///run/app.sock":             "localhost",
		"unix:app.sock":                    "localhost",
		"unix-abstract:app":                "localhost",
		"dns:///billing.svc:443?lb=x":      "billing.svc:443",
		"dns:":                             "",
		"dns:///":                          "",
		"":                                 "",
		"unregistered:///billing.svc:443":  "unregistered:///billing.svc:443",
	} {
		assert.Equal(t, want, otelctxgrpc.Destination(target), target)
	}
}
