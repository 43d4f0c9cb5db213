// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

//go:build otelctx_nolinkname

package asynctrack

import "unsafe"

// linknameBuild is false with the otelctx_nolinkname tag: no goroutine's
// labels can be read, so lookups work from a ctx only.
const linknameBuild = false

func getProfLabel() unsafe.Pointer { return nil }
