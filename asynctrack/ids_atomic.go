//go:build otelctx_nolinkname || race

package asynctrack

// newID returns a new resource ID from the shared counter (see ids_perp.go).
func newID() uint64 { return nextID.Add(1) }
