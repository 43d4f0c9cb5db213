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
// goroutine and execution made a func(). Each moves the closure register,
// which holds the pointer, to the first argument register and jumps to
// startGoroutine or startExecution: the entry a func value of it calls, in
// Go's register-based calling convention, which a func() call has already
// set up (the goroutine register, a zero X15 on amd64, the return address).
// Jumping spares a frame and the wrapper that an assembly call of a Go
// function goes through. Only compiled Go calls these func()s: a go
// statement, time.AfterFunc.
//
// Each starts a 256-byte block of its own: the runtime looks up a
// goroutine's start PC twice (runtime.isSystemGoroutine, at its creation and
// its exit), and runtime.findfunc scans linearly from the first function of
// that PC's 256-byte block to the PC. Aligned, the scan is empty.
// PCALIGNMAX with a limit of 0 pads nothing, wherever it stands, and raises
// the function's alignment to 256.
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
	// startGoroutinePC and startExecutionPC are where the trampolines jump:
	// the entries that func values of startGoroutine and startExecution
	// call.
	startGoroutinePC = funcPC(startGoroutine)
	startExecutionPC = funcPC(startExecution)
)

// funcPC returns the code a func value of fn calls.
func funcPC[T any](fn func(T)) uintptr { return **(**uintptr)(unsafe.Pointer(&fn)) }
