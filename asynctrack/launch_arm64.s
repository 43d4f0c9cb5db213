//go:build !purego

#include "funcdata.h"
#include "textflag.h"

// func startTrampoline()
// Entered as a closure: R26 holds the closure, which is the execution.
// 0(RSP) is the saved link register; startExecution's argument follows it.
TEXT ·startTrampoline(SB), NOSPLIT, $16-0
	NO_LOCAL_POINTERS
	MOVD	R26, 8(RSP)
	CALL	·startExecution(SB)
	RET

// func startTrampolinePC() uintptr
TEXT ·startTrampolinePC(SB), NOSPLIT, $0-8
	MOVD	$·startTrampoline(SB), R0
	MOVD	R0, ret+0(FP)
	RET
