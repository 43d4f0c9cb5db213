package asynctrack

import "unsafe"

// A go statement with a call, like go e.start(), makes the compiler allocate
// a closure to hold e: a second allocation, beside the execution, for every
// goroutine Go starts, and the most expensive part of Go after the first.
// So goroutines and executions begin with a closure header: a pointer to
// one is then also a func() that go can start as it is, and that
// time.AfterFunc can call.
//
// Calling a func() passes the closure's address in a register. Where
// launch_asm.go is built, the header is only the code, an assembly
// trampoline that passes that register on to startGoroutine or
// startExecution. Elsewhere it is the two words of a closure that captured
// the pointer (see launch_closure.go), 8 bytes more.

// startFunc returns a func() that starts g: g itself, made a closure, or, if
// the closure layout check failed, a method value.
func (g *goroutine) startFunc() func() {
	if goroutineCode == 0 {
		return g.start
	}
	g.closure.init(goroutineCode, unsafe.Pointer(g))
	return *(*func())(unsafe.Pointer(&g))
}

// startFunc returns a func() that starts e, as goroutine.startFunc does.
func (e *execution) startFunc() func() {
	if executionCode == 0 {
		return e.start
	}
	e.closure.init(executionCode, unsafe.Pointer(e))
	return *(*func())(unsafe.Pointer(&e))
}
