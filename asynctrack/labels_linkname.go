// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

//go:build !otelctx_nolinkname

package asynctrack

import (
	_ "runtime/pprof" // provides the symbols below
	"unsafe"
)

// linknameBuild is false in builds with the otelctx_nolinkname tag, which
// leave the ctx path only.
const linknameBuild = true

// getProfLabel returns the calling goroutine's pprof label set, as the
// opaque pointer pprof.SetGoroutineLabels gave the runtime. The runtime
// lists the symbol as a tolerated linkname target (runtime/proflabel.go);
// runtime/pprof uses it for the goroutine profile. It is this package's only
// linkname: no public API reads the calling goroutine's labels, and reading
// them is what makes an ambient lookup possible at all. Labels are set back
// through pprof.SetGoroutineLabels (see setLabels).
//
//go:linkname getProfLabel runtime/pprof.runtime_getProfLabel
func getProfLabel() unsafe.Pointer
