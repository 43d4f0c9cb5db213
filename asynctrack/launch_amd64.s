//go:build !purego

#include "funcdata.h"
#include "textflag.h"

// Both trampolines are entered as a closure: DX holds the closure, which is
// the goroutine or execution. The frame holds only the argument to the
// callee, which the callee's argument map covers.
// PCALIGNMAX aligns each to 256 bytes: see launch_asm.go.

// func goroutineTrampoline()
TEXT ·goroutineTrampoline(SB), NOSPLIT, $8-0
	NO_LOCAL_POINTERS
	PCALIGNMAX	$256, $0
	MOVQ	DX, 0(SP)
	CALL	·startGoroutine(SB)
	RET

// func executionTrampoline()
TEXT ·executionTrampoline(SB), NOSPLIT, $8-0
	NO_LOCAL_POINTERS
	PCALIGNMAX	$256, $0
	MOVQ	DX, 0(SP)
	CALL	·startExecution(SB)
	RET

// func goroutineTrampolinePC() uintptr
TEXT ·goroutineTrampolinePC(SB), NOSPLIT, $0-8
	MOVQ	$·goroutineTrampoline(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

// func executionTrampolinePC() uintptr
TEXT ·executionTrampolinePC(SB), NOSPLIT, $0-8
	MOVQ	$·executionTrampoline(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
