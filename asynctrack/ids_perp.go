//go:build !otelctx_nolinkname && !race

package asynctrack

import _ "unsafe" // for go:linkname

// IDs are handed out in blocks, one per P (a scheduler slot, GOMAXPROCS of
// them), so a spawn takes an ID with two plain writes rather than an atomic
// add on a counter every core writes: on a machine with many cores, that
// counter's cache line would move between them on every goroutine started.
// An ID is still never reused; IDs are no longer in creation order across Ps.
//
// The race detector cannot see that pinning to a P serializes the writes, so
// race builds use the shared counter (ids_atomic.go).

const idBlockSize = 1024

// idBlock is a P's unused IDs, next to end, exclusive, on a cache line of
// its own.
type idBlock struct {
	next, end uint64
	_         [48]byte
}

// idBlocks has room for this many Ps; beyond it, the shared counter.
var idBlocks [256]idBlock

// newID returns a new resource ID.
func newID() uint64 {
	// Pinned, the goroutine cannot be preempted or moved, so its P's block
	// is its own until procUnpin.
	if p := procPin(); p < len(idBlocks) {
		b := &idBlocks[p]
		if b.next == b.end {
			b.end = nextID.Add(idBlockSize) + 1
			b.next = b.end - idBlockSize
		}
		id := b.next
		b.next++
		procUnpin()
		return id
	}
	procUnpin()
	return nextID.Add(1)
}

// procPin and procUnpin are the runtime's, as sync.Pool uses them. The
// runtime keeps both for packages outside the standard library
// (go.dev/issue/67401).
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()
