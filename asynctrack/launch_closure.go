//go:build !(amd64 || arm64) || purego

package asynctrack

import "unsafe"

// closureHeader is a closure that captured one pointer by value: its code,
// then the pointer, here the execution itself. This relies on how the
// compiler lays such a closure out; startCode checks that on a real one,
// and if it ever differs, executions are started through a method value and
// cost their second allocation again.
type closureHeader struct {
	code uintptr
	self *execution
}

// maxExecutionSize is what an execution may take in this build: the
// allocator's size class above 48 bytes on 64-bit platforms.
const maxExecutionSize = 64

func (h *closureHeader) init(code uintptr, e *execution) { h.code, h.self = code, e }

// startClosure returns a closure that starts e. e is a parameter that is
// never assigned, so the closure captures it by value.
func startClosure(e *execution) func() { return func() { startExecution(e) } }

// startCode is the code of startClosure's closure, or 0 if its layout is not
// the expected one.
var startCode = func() uintptr {
	probe := new(execution)
	f := startClosure(probe)
	// Both layouts a closure of one pointer can have, the pointer or the
	// address of a cell holding it, take two words: reading the second is
	// safe either way.
	if c := *(**closureHeader)(unsafe.Pointer(&f)); c.self == probe {
		return c.code
	}
	return 0
}()
