//go:build (amd64 || arm64) && !purego

package asynctrack

import "unsafe"

// closureHeader is the code of a func(): a trampoline.
type closureHeader struct{ code uintptr }

// maxGoroutineSize and maxExecutionSize are what a goroutine and an
// execution may take in this build: allocator size classes.
const (
	maxGoroutineSize = 32
	maxExecutionSize = 48
)

func (h *closureHeader) init(code uintptr, _ unsafe.Pointer) { h.code = code }

// goroutineTrampoline and executionTrampoline are the code of every
// goroutine and execution made a func(): they call startGoroutine or
// startExecution with the closure register, which holds the pointer.
func goroutineTrampoline()
func executionTrampoline()

// goroutineTrampolinePC and executionTrampolinePC return the trampolines'
// entries: the assembly itself, not the wrapper a Go func value of it would
// point to.
func goroutineTrampolinePC() uintptr
func executionTrampolinePC() uintptr

var (
	goroutineCode = goroutineTrampolinePC()
	executionCode = executionTrampolinePC()
)
