//go:build !purego

#include "textflag.h"

// Both trampolines are entered as a closure: R26 holds the closure, which
// is the goroutine or execution. Each jumps to its Go function as a call of
// it would, with the argument in R0 and the link register untouched (see
// launch_asm.go). PCALIGNMAX aligns each to 256 bytes: see launch_asm.go.

// func goroutineTrampoline()
TEXT ·goroutineTrampoline(SB), NOSPLIT|NOFRAME, $0-0
	PCALIGNMAX	$256, $0
	MOVD	R26, R0
	MOVD	·startGoroutinePC(SB), R1
	JMP	(R1)

// func executionTrampoline()
TEXT ·executionTrampoline(SB), NOSPLIT|NOFRAME, $0-0
	PCALIGNMAX	$256, $0
	MOVD	R26, R0
	MOVD	·startExecutionPC(SB), R1
	JMP	(R1)

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
