//go:build !purego

#include "funcdata.h"
#include "textflag.h"

// Both trampolines are entered as a closure: R26 holds the closure, which
// is the goroutine or execution. 0(RSP) is the saved link register; the
// callee's argument follows it.
// PCALIGNMAX aligns each to 256 bytes: see launch_asm.go.

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
