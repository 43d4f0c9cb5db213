//go:build otelctx_nolinkname

package asynctrack

import "unsafe"

// linknameBuild is false: this build reads no goroutine labels, so lookups
// work from a ctx only and Ambient always returns context.Background().
const linknameBuild = false

func getProfLabel() unsafe.Pointer { return nil }
