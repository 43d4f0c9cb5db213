// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package server starts the examples' HTTP and gRPC servers.
package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
)

// Server is an HTTP server running in its own goroutine.
type Server struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:43210.
	URL string
	// Host is the host:port it listens on.
	Host string
	srv  *http.Server
	done chan struct{}
}

// Start serves h on addr ("127.0.0.1:0" picks a free loopback port) until
// Shutdown.
func Start(addr string, h http.Handler) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		Host: l.Addr().String(),
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second},
		done: make(chan struct{}),
	}
	s.URL = "http://" + s.Host
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			otel.Handle(err)
		}
	}()
	return s, nil
}

// Shutdown stops the server gracefully, as http.Server.Shutdown does, and
// waits for its goroutine to end.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
