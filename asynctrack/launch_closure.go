//go:build !(amd64 || arm64) || purego

package asynctrack

import "unsafe"

// closureHeader is a closure that captured one pointer by value: its code,
// then the pointer, here the goroutine or execution itself. This relies on
// how the compiler lays such a closure out; the codes below are checked on
// real ones, and if the layout ever differs, goroutines and executions are
// started through method values and cost their second allocation again.
type closureHeader struct {
	code uintptr
	self unsafe.Pointer
}

// maxGoroutineSize and maxExecutionSize are what a goroutine and an
// execution may take in this build: allocator size classes on 64-bit
// platforms.
const (
	maxGoroutineSize = 48
	maxExecutionSize = 64
)

func (h *closureHeader) init(code uintptr, self unsafe.Pointer) { h.code, h.self = code, self }

// goroutineClosure and executionClosure return closures that start g and e.
// Each captures a parameter that is never assigned, so by value.
func goroutineClosure(g *goroutine) func() { return func() { startGoroutine(g) } }
func executionClosure(e *execution) func() { return func() { startExecution(e) } }

// goroutineCode and executionCode are the code of those closures, or 0 if
// their layout is not the expected one.
var (
	goroutineCode = func() uintptr {
		g := new(goroutine)
		return closureCode(goroutineClosure(g), unsafe.Pointer(g))
	}()
	executionCode = func() uintptr {
		e := new(execution)
		return closureCode(executionClosure(e), unsafe.Pointer(e))
	}()
)

// closureCode returns the code of f, if f is laid out as a closureHeader
// holding probe.
func closureCode(f func(), probe unsafe.Pointer) uintptr {
	// Both layouts a closure of one pointer can have, the pointer or the
	// address of a cell holding it, take two words: reading the second is
	// safe either way.
	if c := *(**closureHeader)(unsafe.Pointer(&f)); c.self == probe {
		return c.code
	}
	return 0
}
