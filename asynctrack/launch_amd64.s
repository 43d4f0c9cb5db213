//go:build !purego

#include "funcdata.h"
#include "textflag.h"

// func startTrampoline()
// Entered as a closure: DX holds the closure, which is the execution. The
// frame holds only the argument to startExecution, which the callee's
// argument map covers.
TEXT ·startTrampoline(SB), NOSPLIT, $8-0
	NO_LOCAL_POINTERS
	MOVQ	DX, 0(SP)
	CALL	·startExecution(SB)
	RET

// func startTrampolinePC() uintptr
TEXT ·startTrampolinePC(SB), NOSPLIT, $0-8
	MOVQ	$·startTrampoline(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
