package asynctrack

import (
	"context"
	"sync"
	"testing"
)

func TestSmoke(t *testing.T) {
	if !ambientSupported {
		t.Fatal("ambient not supported")
	}
	s := NewStore[string]()
	var wg sync.WaitGroup
	s.Run(context.Background(), "req-1", func(ctx context.Context) {
		v, ok := s.Current()
		t.Log("in run:", v, ok, CurrentExecutionID())
		wg.Add(1)
		Go(ctx, func(ctx context.Context) {
			defer wg.Done()
			v, _ := s.Value(ctx)
			a, _ := s.Current()
			t.Log("in Go:", v, a, ExecutionID(ctx), TriggerID(ctx), CurrentExecutionID())
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, ok := s.Current()
				t.Log("plain go:", a, ok, CurrentExecutionID())
			}()
		})
	})
	wg.Wait()
	v, ok := s.Current()
	t.Log("after:", v, ok)
}
