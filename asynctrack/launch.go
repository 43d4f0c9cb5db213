package asynctrack

import "unsafe"

// A go statement with a call, like go e.start(), makes the compiler allocate
// a closure to hold e: a second allocation, beside the execution, for every
// goroutine Go starts, and the most expensive part of Go after the first.
// So an execution begins with the two words of such a closure, the code of
// one that calls start on the pointer it captured and that pointer, itself:
// a pointer to the execution is then also a func() that go can start as it
// is, and that time.AfterFunc can call.
//
// This relies on how the compiler lays out a closure that captures one
// pointer by value: its code, then the pointer. init checks that on a real
// closure, and if it ever differs, executions are started through a method
// value and cost their second allocation again.
type closureHeader struct {
	code uintptr    // the closure's code
	self *execution // its captured variable
}

// startClosure returns a closure that starts e. e is a parameter that is
// never assigned, so the closure captures it by value.
func startClosure(e *execution) func() { return func() { e.start() } }

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

// startFunc returns a func() that starts e: e itself, made a closure, or, if
// the layout check failed, a method value.
func (e *execution) startFunc() func() {
	if startCode == 0 {
		return e.start
	}
	e.closure = closureHeader{code: startCode, self: e}
	return *(*func())(unsafe.Pointer(&e))
}
