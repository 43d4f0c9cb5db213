// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEnvGivenTwiceProcess starts this test binary with an environment
// that holds OTELCTX_INGRESS_DENY twice, as only a raw execve can (os/exec
// keeps the last value, Go's os.Getenv the first): the service reports the
// variable and accepts no inbound baggage.
func TestEnvGivenTwiceProcess(t *testing.T) {
	if os.Getenv("OTELCTXTEST_TWICE") != "" {
		errs := captureErrors(t)
		fmt.Println("kept:", keysOf(extract(New(WithEnv()), "baggage", "user.id=1,secret=2")))
		for _, err := range errs() {
			fmt.Println("report:", err)
		}
		return
	}
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	pid, err := syscall.ForkExec(os.Args[0], []string{os.Args[0], "-test.run=^TestEnvGivenTwiceProcess$"}, &syscall.ProcAttr{
		Env:   []string{"OTELCTXTEST_TWICE=1", "OTELCTX_INGRESS_DENY=secret", "OTELCTX_INGRESS_DENY=user.id"},
		Files: []uintptr{0, w.Fd(), w.Fd()},
	})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	var ws syscall.WaitStatus
	_, err = syscall.Wait4(pid, &ws, 0, nil)
	require.NoError(t, err)
	require.True(t, ws.Exited() && ws.ExitStatus() == 0, "%s", out)
	assert.Contains(t, string(out), "kept: []")
	assert.Contains(t, string(out), "report: propagator: OTELCTX_INGRESS_DENY is invalid (given more than once, with different values): no inbound baggage is accepted")
}
