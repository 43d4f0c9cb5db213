// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

//go:build !unix

package propagator

import "time"

// processCPU reports that the process's CPU time is not known here.
func processCPU() (time.Duration, bool) { return 0, false }
