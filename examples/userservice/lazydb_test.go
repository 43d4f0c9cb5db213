// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package userservice

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelctx/otelctx/asynctrack"
)

// TestDBOpenedInsideRequest opens the database from inside a request that
// then leaves a goroutine running, so that its scope stays open: the pool's
// connection opener, which database/sql starts in sql.Open, carries no
// request. The control, sql.Open in the same place, shows the label the
// profile would show if it did.
func TestDBOpenedInsideRequest(t *testing.T) {
	store := asynctrack.NewStore[string]()
	ambient := false
	store.Run(context.Background(), "x", func(context.Context) { _, ambient = store.Current() })
	if !ambient {
		t.Skip("ambient lookups need the linkname build")
	}
	db := NewDB()
	defer func() { assert.NoError(t, db.Close()) }()
	release, left := make(chan struct{}), make(chan struct{})
	var control *sql.DB
	store.Run(context.Background(), "user-1", func(ctx context.Context) {
		_, err := db.User(ctx, Users[0].ID)
		require.NoError(t, err)
		control, err = sql.Open("sqlite", ":memory:")
		require.NoError(t, err)
		asynctrack.Go(ctx, func(context.Context) { defer close(left); <-release })
	})
	defer func() { assert.NoError(t, control.Close()) }()
	defer func() { close(release); <-left }()

	// A goroutine shows its function in the profile once it has run.
	var labelled, plain int
	require.Eventually(t, func() bool { labelled, plain = openers(t); return labelled+plain >= 2 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, 1, labelled, "the control's opener carries the request's scope")
	assert.GreaterOrEqual(t, plain, 1, "the service's opener carries none")
}

// openers counts the goroutines running database/sql's connection opener
// with and without an otelctx scope label, from the goroutine profile.
func openers(t *testing.T) (labelled, plain int) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&buf, 1))
	for group := range strings.SplitSeq(buf.String(), "\n\n") {
		if !strings.Contains(group, "database/sql.(*DB).connectionOpener") {
			continue
		}
		n := 1
		if i := strings.IndexByte(group, ' '); i > 0 {
			_, _ = fmt.Sscan(group[:i], &n)
		}
		if strings.Contains(group, `"otelctx":`) {
			labelled += n
		} else {
			plain += n
		}
	}
	return labelled, plain
}
