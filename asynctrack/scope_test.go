// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelctx/otelctx/internal/scopehook"
)

// FuzzAmbientLabels installs arbitrary pprof labels, as user code may, on a
// goroutine in a scope, in none, or detached from one, while another
// request's scope is open, and then makes every ambient lookup. None may
// crash, and none may see a scope but the goroutine's own. The key
// "otelctx" and its value are also sliced from one string, so that their
// bytes are adjacent in memory.
func FuzzAmbientLabels(f *testing.F) {
	f.Add("otelctxc4f7b50dc9df55ed", uint8(0))
	f.Add("otelctxc4f7b50dc9df55ed", uint8(1))
	f.Add("otelctx0,otelctx=1,team=payments", uint8(2))
	f.Add("otelctxscope,otelctx=ffffffffffffffff", uint8(3))
	f.Add("otelctx=,=,==", uint8(4))
	f.Add("", uint8(5))
	f.Add("otelctx", uint8(7))

	store := NewStore[string]()
	other := make(chan struct{})
	opened := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // another request, open throughout
		defer wg.Done()
		store.Run(context.Background(), "other", func(context.Context) {
			close(opened)
			<-other
		})
	}()
	<-opened
	f.Cleanup(func() { close(other); wg.Wait() })

	f.Fuzz(func(t *testing.T, s string, mode uint8) {
		var kv []string
		if len(s) >= len(labelName) {
			kv = append(kv, s[:len(labelName)], s[len(labelName):]) // one buffer
		}
		for pair := range strings.SplitSeq(s, ",") {
			k, v, _ := strings.Cut(pair, "=")
			kv = append(kv, k, v)
		}
		labels := pprof.Labels(kv...)

		done := make(chan struct{})
		go func() { // a goroutine of its own: labels stay with it
			defer close(done)
			lookup := func(want string) {
				_ = Ambient().Value(frameKey{})
				_ = ExecutionID(Ambient())
				_ = TriggerID(Ambient())
				if got, ok := store.Current(); ok {
					assert.Equal(t, want, got, "labels %q led to another scope", kv)
				}
				if got, ok := store.Value(Ambient()); ok {
					assert.Equal(t, want, got)
				}
			}
			install := func(ctx context.Context, want string) {
				switch mode % 3 {
				case 0:
					pprof.SetGoroutineLabels(pprof.WithLabels(ctx, labels))
					lookup(want)
				case 1:
					pprof.Do(ctx, labels, func(context.Context) { lookup(want) })
				case 2:
					pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), labels))
					lookup("")
				}
			}
			switch mode / 3 % 3 {
			case 0:
				install(context.Background(), "")
			case 1:
				store.Run(context.Background(), "mine", func(ctx context.Context) {
					install(ctx, "mine")
					lookup("mine")
				})
				lookup("")
			case 2:
				store.Run(context.Background(), "mine", func(ctx context.Context) {
					Exit(ctx, func(ctx context.Context) { install(ctx, "") })
				})
			}
		}()
		<-done
	})
}

// TestOutlivingWorkSeesNothing: work that outlives the request that
// happened to start it must not carry the request's values.
func TestOutlivingWorkSeesNothing(t *testing.T) {
	requireAmbient(t)
	store := NewStore[string]()

	t.Run("context.Background is no request", func(t *testing.T) {
		store.Run(context.Background(), "user-1", func(context.Context) {
			_, ok := store.Value(context.Background())
			assert.False(t, ok, "Value(context.Background()) never reads the ambient scope")
			assert.Equal(t, "user-1", value(store.Current()))
		})
	})

	t.Run("lazy worker started with Go", func(t *testing.T) {
		var once sync.Once
		seen := make(chan string, 2)
		work := make(chan struct{})
		stop := make(chan struct{})
		var wg sync.WaitGroup
		startWorker := func() {
			wg.Add(1)
			Go(context.Background(), func(context.Context) { // a cache refresher
				defer wg.Done()
				for {
					select {
					case <-work:
						v, _ := store.Current()
						seen <- v
					case <-stop:
						return
					}
				}
			})
		}
		for _, user := range []string{"user-1", "user-2"} {
			store.Run(context.Background(), user, func(context.Context) {
				once.Do(startWorker)
				work <- struct{}{}
				assert.Empty(t, <-seen, "the worker logged %s's values", user)
			})
		}
		close(stop)
		wg.Wait()
	})

	t.Run("plain go after its Run returned", func(t *testing.T) {
		release := make(chan struct{})
		type seen struct {
			value string
			id    uint64
		}
		got := make(chan seen, 1)
		store.Run(context.Background(), "user-1", func(context.Context) {
			go func() {
				<-release
				v, _ := store.Current()
				got <- seen{v, ExecutionID(Ambient())}
			}()
		})
		close(release)
		assert.Equal(t, seen{}, <-got, "the scope closed with its Run and never reopens")
		// Other tests' work may still be ending: poll, bounded.
		assert.Eventually(t, func() bool { return openScopes() == 0 }, 10*time.Second, time.Millisecond)
	})

	t.Run("plain go under Exit", func(t *testing.T) {
		got := make(chan string, 1)
		store.Run(context.Background(), "user-1", func(ctx context.Context) {
			Exit(ctx, func(ctx context.Context) {
				_, ok := store.Value(ctx)
				assert.False(t, ok, "Exit's ctx carries no values")
				_, ok = store.Current()
				assert.False(t, ok, "nor does the goroutine")
				go func() { v, _ := store.Current(); got <- v }()
			})
			assert.Empty(t, <-got, "a goroutine started under Exit sees nothing, though the scope is open")
			assert.Equal(t, "user-1", value(store.Current()), "Exit restores the scope")
		})
	})
}

// TestExitLabels checks what Exit leaves on the goroutine: no label set at
// all, or, while the live view watches, only the one that names the scope
// it left, which no lookup follows; leaveScopes without a callback does
// the same.
func TestExitLabels(t *testing.T) {
	if !ambientSupported {
		t.Skip("no ambient scopes in this build")
	}
	store := NewStore[string]()
	exitLabel := func() (string, bool) { return pprof.Label(labelsCtx{getProfLabel()}, scopehook.ExitLabel) }
	store.Run(context.Background(), "user-1", func(ctx context.Context) {
		sc := ambientScope()
		require.NotNil(t, sc)
		Exit(ctx, func(context.Context) {
			assert.Nil(t, getProfLabel(), "nobody watches: no label set")
		})
		saved := leaveScopes()
		assert.True(t, saved.Swapped)
		assert.Nil(t, getProfLabel())
		backToScope(saved)
		assert.Equal(t, sc, ambientScope(), "back in the scope")

		stop := scopehook.Watch()
		defer stop()
		Exit(ctx, func(context.Context) {
			v, ok := exitLabel()
			assert.True(t, ok)
			assert.Equal(t, strconv.FormatUint(sc.token, 16), v, "the label names the scope left")
			assert.Nil(t, ambientScope(), "no lookup follows it")
			_, ok = store.Current()
			assert.False(t, ok)
		})
		assert.Equal(t, "user-1", value(store.Current()))
	})
	saved := leaveScopes()
	assert.False(t, saved.Swapped, "outside every scope there is nothing to leave")
	backToScope(saved)
}
