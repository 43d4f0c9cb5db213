// Package cmdtest runs the examples' commands in tests.
package cmdtest

import (
	"bytes"
	"context"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Run calls run in a goroutine, waits until its output matches the
// regular expression re, whose first group is returned (a URL, say), and
// stops run, wanting no error, when the test ends.
func Run(t *testing.T, re string, run func(ctx context.Context, out *Output) error) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &Output{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	m := regexp.MustCompile(re)
	var got []string
	require.Eventually(t, func() bool {
		got = m.FindStringSubmatch(out.String())
		return got != nil
	}, 10*time.Second, 10*time.Millisecond, "output matching %q", re)
	return got[1]
}

// Output is an io.Writer safe for concurrent use.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
