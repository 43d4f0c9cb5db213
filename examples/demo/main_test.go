package main

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDemoEveryRequestSeesOnlyItsUser(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out, 20))
	for i := range 20 {
		u := fmt.Sprintf("user-%d", i)
		assert.Contains(t, out.String(), fmt.Sprintf("request for user-%d saw: goroutine:%s plain go:%s pool task:%s\n", i, u, u, u))
	}
	assert.Contains(t, out.String(), "└ goroutine #")
	assert.Contains(t, out.String(), "└ task #")
}
