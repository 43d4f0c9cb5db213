// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package workerpool shows one asynctrack.Pool shared by every request.
//
// A pool's workers are started once, before any request, so no request is
// their parent: with a plain channel of func() a task would see none of the
// values of the request that queued it. Tasks submitted through Pool.Submit
// run as the submitter's own work instead: each sees its request's values,
// from its ctx and ambiently (in code that takes no ctx), and its trigger ID
// is the submitting request's execution ID.
//
// The example uses asynctrack alone: each request is an async resource the
// handler opens with asynctrack.NewResource, and its ID lives in an
// asynctrack.Store. With OpenTelemetry, baggagebridge.Middleware opens the
// request's resource instead, and the pool works the same (see package
// twoservices).
package workerpool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

// MaxTasks bounds the tasks one request may submit (?n=).
const MaxTasks = 64

// requestID is the request's ID, as the client sent it in X-Request-Id.
var requestID = asynctrack.NewStore[string]()

// Server answers GET /?n=N by submitting N tasks to one pool shared by all
// requests, and reports which request each task saw.
type Server struct {
	pool *asynctrack.Pool
}

// New returns a Server with a pool of workers goroutines. Close stops them.
func New(workers int) *Server {
	return &Server{pool: asynctrack.NewPool(context.Background(), workers)}
}

// Close stops the pool after the tasks it holds.
func (s *Server) Close() { s.pool.Close() }

// Response is the JSON body of a successful request.
type Response struct {
	Request     string `json:"request"`
	ExecutionID uint64 `json:"executionId"` // the request's execution
	Tasks       []Task `json:"tasks"`
}

// Task is what one task saw.
type Task struct {
	N int `json:"n"`
	// Request is the request ID read from the task's ctx; Ambient the one
	// read by code that holds no ctx. Both are the submitting request's.
	Request string `json:"request"`
	Ambient string `json:"ambient"`
	// TriggerID is the submitting request's execution ID.
	TriggerID uint64 `json:"triggerId"`
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, "X-Request-Id must be 1 to 64 letters, digits, '-' or '_'")
		return
	}
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 1 || n > MaxTasks {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("n must be an integer from 1 to %d", MaxTasks))
		return
	}

	req := asynctrack.NewResource(r.Context(), baggagebridge.TypeHTTPRequest, r)
	defer req.Destroy()
	resp := Response{Request: id, ExecutionID: req.ID(), Tasks: make([]Task, n)}
	req.Run(func(ctx context.Context) {
		requestID.Run(ctx, id, func(ctx context.Context) {
			err = s.submitAll(ctx, resp.Tasks)
		})
	})
	switch {
	case errors.Is(err, asynctrack.ErrPoolClosed):
		writeError(w, http.StatusServiceUnavailable, "shutting down")
	case err != nil: // the client went away
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	}
}

// submitAll runs one task per element of out on the pool and waits for
// them. Each task writes only its own element.
func (s *Server) submitAll(ctx context.Context, out []Task) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range out {
		wg.Add(1)
		err := s.pool.Submit(ctx, func(ctx context.Context) {
			defer wg.Done()
			v, _ := requestID.Value(ctx)
			out[i] = Task{N: i, Request: v, Ambient: currentRequest(), TriggerID: asynctrack.TriggerID(ctx)}
		})
		if err != nil {
			wg.Done()
			return err
		}
	}
	return nil
}

// currentRequest takes no ctx, like a logging helper deep in a library: it
// reads the request ID of whatever work the calling goroutine is doing.
func currentRequest() string {
	id, _ := requestID.Current()
	return id
}

func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}
