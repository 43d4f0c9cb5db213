// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package twoservices runs a frontend that calls a backend over HTTP and a
// greeter over gRPC, instrumented with otelhttp or otelgrpc and
// otelctxgrpc, the bridge middleware and span processor, the otelctx
// propagator and the exporter of async-resource spans.
//
// The frontend answers GET /profile. It reads the user from the userid
// header (the propagator maps it to the baggage member user.id), keeps a
// session record as a local value that never leaves the process, and
// spreads the request's work over a tracked goroutine, a plain go statement
// inside it, a task of a worker pool shared by all requests and a timer;
// each of them reports the user and session it sees without being handed
// either; a library that drops the ctx (package thirdparty) still records
// its span in the request's trace. Meanwhile it calls the backend, the seed's user service (package
// userservice), which receives user.id as baggage, because the egress
// policy sends it to the backend's host, and looks the user up; and, in
// another goroutine, the greeter, a unary gRPC service that receives
// user.id as baggage in the RPC's metadata, because the egress policy sends
// it to the greeter's target too, and reads it ambiently in its handler
// and in a goroutine of its own. The backend's own upstream receives no
// baggage, and the session reaches neither service.
package twoservices

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/examples/telemetry"
	"github.com/otelctx/otelctx/examples/thirdparty"
	"github.com/otelctx/otelctx/examples/userservice"
)

// Session is the frontend's local value: request data that has no business
// leaving the process.
type Session struct {
	ID uint64 // the request's execution ID
}

// session holds the request's Session. Unlike user.id it is not baggage: no
// propagator, span processor or log handler sees it.
var session = asynctrack.NewStore[Session]()

// Sighting is what one piece of the request's work saw, without a ctx.
type Sighting struct {
	Where string `json:"where"`
	User  string `json:"user"`
	// Session is the ID of the session seen, 0 if none.
	Session uint64 `json:"session"`
}

// Response is the JSON body of GET /profile.
type Response struct {
	User    string `json:"user"`
	TraceID string `json:"traceId"`
	// Session is the request's session ID, its execution ID.
	Session uint64     `json:"session"`
	Seen    []Sighting `json:"seen"`
	// Backend is the backend's answer, and BackendStatus its status code.
	Backend       userservice.Response `json:"backend"`
	BackendStatus int                  `json:"backendStatus"`
	// Greeting is the greeter's answer.
	Greeting Greeting `json:"greeting"`
	Error    string   `json:"error,omitempty"`
}

// Frontend serves GET /profile.
type Frontend struct {
	tel     *telemetry.Service
	backend string
	client  *http.Client
	greeter grpc.ClientConnInterface
	pool    *asynctrack.Pool
}

// NewFrontend returns a frontend instrumented by tel that calls the
// userservice at backend (its base URL) and the greeter (GreeterDesc) on
// greeter, a ClientConn dialed with tel.GRPCDialOptions. Close stops its
// worker pool.
func NewFrontend(tel *telemetry.Service, backend string, greeter grpc.ClientConnInterface) *Frontend {
	return &Frontend{
		tel:     tel,
		backend: backend,
		client:  tel.Client(),
		greeter: greeter,
		pool:    asynctrack.NewPool(context.Background(), 2),
	}
}

// Close stops the worker pool after the tasks it holds.
func (f *Frontend) Close() { f.pool.Close() }

// Handler returns the frontend's routes, instrumented.
func (f *Frontend) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /profile", f.tel.Handler(http.HandlerFunc(f.serveProfile)))
	return mux
}

func (f *Frontend) serveProfile(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	resp := Response{TraceID: trace.SpanContextFromContext(ctx).TraceID().String()}
	user, ok := baggagebridge.Get(ctx, telemetry.UserKey)
	if !ok || user == "" {
		resp.Error = "no user ID: send the user ID in the userid header"
		writeJSON(w, http.StatusBadRequest, resp)
		return
	}
	resp.User = user
	s := Session{ID: asynctrack.ExecutionID(ctx)}
	resp.Session = s.ID

	// With the session in the ctx, and the ctx ambient, code without a ctx
	// sees it too.
	asynctrack.Run(session.With(ctx, s), func(ctx context.Context) {
		var seen sightings
		seen.see("handler")
		// A library that drops the ctx: its span joins this request's trace
		// all the same, under the request's span.
		thirdparty.Audit(f.tel.Ambient, "profile viewed")

		g, gctx := asynctrack.NewGroup(ctx)
		g.Go(func(ctx context.Context) error {
			resp.BackendStatus, resp.Backend, resp.Error = f.callBackend(ctx)
			return nil
		})
		g.Go(func(ctx context.Context) error {
			var err error
			if resp.Greeting, err = greet(ctx, f.greeter); err != nil {
				return fmt.Errorf("greeter: %w", err)
			}
			return nil
		})
		g.Go(func(context.Context) error {
			seen.see("goroutine")
			done := make(chan struct{})
			go func() { // a plain go statement, as in code we do not own
				defer close(done)
				seen.see("plain go")
			}()
			<-done
			return nil
		})
		g.Go(func(ctx context.Context) error {
			done := make(chan struct{})
			if err := f.pool.Submit(ctx, func(context.Context) {
				defer close(done)
				seen.see("pool task")
			}); err != nil {
				return err
			}
			<-done
			return nil
		})
		g.Go(func(ctx context.Context) error {
			done := make(chan struct{})
			t := asynctrack.AfterFunc(ctx, time.Millisecond, func(context.Context) {
				defer close(done)
				seen.see("timer")
			})
			select {
			case <-done:
				return nil
			case <-gctx.Done():
				t.Stop()
				return gctx.Err()
			}
		})
		if err := g.Wait(); err != nil {
			resp.Error = err.Error()
		}
		resp.Seen = seen.sorted()
	})

	code := cmp.Or(resp.BackendStatus, http.StatusBadGateway)
	if resp.Greeting.Text == "" { // the greeter failed
		code = http.StatusBadGateway
	}
	writeJSON(w, code, resp)
}

// callBackend asks the backend for the current user. The request carries no
// user: the transport's propagator sends the baggage.
func (f *Frontend) callBackend(ctx context.Context) (int, userservice.Response, string) {
	var resp userservice.Response
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.backend+"/user", nil)
	if err != nil {
		return 0, resp, err.Error()
	}
	res, err := f.client.Do(req)
	if err != nil {
		return 0, resp, fmt.Sprintf("backend unreachable: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return 0, resp, fmt.Sprintf("backend: %v", err)
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return 0, resp, fmt.Sprintf("backend answered %s with a body that is not JSON", res.Status)
	}
	return res.StatusCode, resp, resp.Error
}

// sightings collects what the request's work saw.
type sightings struct {
	mu   sync.Mutex
	list []Sighting
}

// see records what the calling goroutine sees. It takes no ctx: it reads
// the user and the session from the ambient scope.
func (s *sightings) see(where string) {
	user, _ := baggagebridge.Current(telemetry.UserKey)
	sess, _ := session.Current()
	s.mu.Lock()
	s.list = append(s.list, Sighting{Where: where, User: user, Session: sess.ID})
	s.mu.Unlock()
}

// places are where the request's work runs, in the order sorted lists them.
var places = []string{"handler", "goroutine", "plain go", "pool task", "timer", "greeter", "greeter goroutine"}

func (s *sightings) sorted() []Sighting {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.SortedFunc(slices.Values(s.list), func(a, b Sighting) int {
		return cmp.Compare(slices.Index(places, a.Where), slices.Index(places, b.Where))
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
