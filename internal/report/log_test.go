// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package report

import (
	"bytes"
	"log"
	"sync"
	"testing"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// logOutput sends the log package's output to buf for the duration of t.
func logOutput(t *testing.T, buf *syncBuffer) func() string {
	prev := log.Writer()
	log.SetOutput(buf)
	t.Cleanup(func() { log.SetOutput(prev) })
	return func() string { buf.mu.Lock(); defer buf.mu.Unlock(); return buf.b.String() }
}
