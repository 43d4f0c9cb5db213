//go:build !purego

#include "funcdata.h"
#include "textflag.h"

// Both trampolines are entered as a closure: R26 holds the closure, which
// is the goroutine or execution. 0(RSP) is the saved link register; the
// callee's argument follows it.
//
// Each trampoline starts a 256-byte block of its own: the runtime looks up
// a goroutine's start PC twice (runtime.isSystemGoroutine, at its creation
// and its exit), and runtime.findfunc scans linearly from the first function
// of that PC's 256-byte block to the PC. Aligned, the scan is empty.
// PCALIGNMAX with a limit of 0 pads nothing, wherever it stands, and raises
// the function's alignment to 256.

// func goroutineTrampoline()
TEXT ·goroutineTrampoline(SB), NOSPLIT, $16-0
	NO_LOCAL_POINTERS
	PCALIGNMAX	$256, $0
	MOVD	R26, 8(RSP)
	CALL	·startGoroutine(SB)
	RET

// func executionTrampoline()
TEXT ·executionTrampoline(SB), NOSPLIT, $16-0
	NO_LOCAL_POINTERS
	PCALIGNMAX	$256, $0
	MOVD	R26, 8(RSP)
	CALL	·startExecution(SB)
	RET

// func goroutineTrampolinePC() uintptr
TEXT ·goroutineTrampolinePC(SB), NOSPLIT, $0-8
	MOVD	$·goroutineTrampoline(SB), R0
	MOVD	R0, ret+0(FP)
	RET

// func executionTrampolinePC() uintptr
TEXT ·executionTrampolinePC(SB), NOSPLIT, $0-8
	MOVD	$·executionTrampoline(SB), R0
	MOVD	R0, ret+0(FP)
	RET
