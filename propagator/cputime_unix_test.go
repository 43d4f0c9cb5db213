// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

//go:build unix

package propagator

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time, user and system, the process has used.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
