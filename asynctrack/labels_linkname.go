//go:build !otelctx_nolinkname

package asynctrack

import (
	_ "runtime/pprof" // provides the symbol below
	"unsafe"
)

// linknameBuild is false in builds with the otelctx_nolinkname tag, which
// leave the ctx path only.
const linknameBuild = true

// getProfLabel returns the calling goroutine's pprof label set. The runtime
// lists this symbol as a tolerated linkname target (runtime/proflabel.go).
//
//go:linkname getProfLabel runtime/pprof.runtime_getProfLabel
func getProfLabel() unsafe.Pointer
