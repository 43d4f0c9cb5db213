//go:build (amd64 || arm64) && !purego

package asynctrack

// closureHeader is the code of a func(): the trampoline.
type closureHeader struct{ code uintptr }

// maxExecutionSize is what an execution may take in this build.
const maxExecutionSize = 48

func (h *closureHeader) init(code uintptr, _ *execution) { h.code = code }

// startTrampoline is the code of every execution made a func(): it calls
// startExecution with the closure register, which holds the execution.
func startTrampoline()

// startTrampolinePC returns startTrampoline's entry: the assembly itself,
// not the wrapper a Go func value of it would point to.
func startTrampolinePC() uintptr

var startCode = startTrampolinePC()
