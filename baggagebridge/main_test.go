// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/otelctx/otelctx/asynctrack"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// requireAmbient skips t in builds where code without a ctx sees nothing
// (the otelctx_nolinkname tag): t reads values ambiently.
func requireAmbient(t testing.TB) {
	t.Helper()
	s := asynctrack.NewStore[bool]()
	ok := false
	s.Run(context.Background(), true, func(context.Context) { ok, _ = s.Current() })
	if !ok {
		t.Skip("ambient lookups need the default build (this one has the otelctx_nolinkname tag)")
	}
}
