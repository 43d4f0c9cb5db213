//go:build !purego

#include "textflag.h"

// Both trampolines are entered as a closure: DX holds the closure, which is
// the goroutine or execution. Each jumps to its Go function as a call of it
// would, with the argument in AX (see launch_asm.go). PCALIGNMAX aligns each
// to 256 bytes: see launch_asm.go.

// func goroutineTrampoline()
TEXT ·goroutineTrampoline(SB), NOSPLIT|NOFRAME, $0-0
	PCALIGNMAX	$256, $0
	MOVQ	DX, AX
	MOVQ	·startGoroutinePC(SB), CX
	JMP	CX

// func executionTrampoline()
TEXT ·executionTrampoline(SB), NOSPLIT|NOFRAME, $0-0
	PCALIGNMAX	$256, $0
	MOVQ	DX, AX
	MOVQ	·startExecutionPC(SB), CX
	JMP	CX

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
