package asynctrack

import "unsafe"

// A go statement with a call, like go e.start(), makes the compiler allocate
// a closure to hold e: a second allocation, beside the execution, for every
// goroutine Go starts, and the most expensive part of Go after the first.
// So an execution begins with a closure header: a pointer to the execution
// is then also a func() that go can start as it is, and that
// time.AfterFunc can call.
//
// Calling a func() passes the closure's address in a register. Where
// launch_asm.go is built, the header is only the code, an assembly
// trampoline that passes that register on to startExecution. Elsewhere it is
// the two words of a closure that captured the execution's pointer (see
// launch_closure.go), 16 bytes more.

// startFunc returns a func() that starts e: e itself, made a closure, or, if
// the closure layout check failed, a method value.
func (e *execution) startFunc() func() {
	if startCode == 0 {
		return e.start
	}
	e.closure.init(startCode, e)
	return *(*func())(unsafe.Pointer(&e))
}
