//go:build !otelctx_nolinkname

package asynctrack

import (
	_ "runtime/pprof" // provides the symbols below
	"unsafe"
)

// linknameBuild is false in builds with the otelctx_nolinkname tag, which
// leave the ctx path only.
const linknameBuild = true

// getProfLabel returns the calling goroutine's pprof label set, and
// setProfLabel replaces it. The runtime lists both symbols as tolerated
// linkname targets (runtime/proflabel.go); runtime/pprof uses them to
// implement SetGoroutineLabels and the goroutine profile. They are this
// package's only linknames: reading the label set is what makes an ambient
// lookup possible at all, and putting back exactly the set a callback
// replaced keeps the user's own labels.
//
//go:linkname getProfLabel runtime/pprof.runtime_getProfLabel
func getProfLabel() unsafe.Pointer

//go:linkname setProfLabel runtime/pprof.runtime_setProfLabel
func setProfLabel(labels unsafe.Pointer)
