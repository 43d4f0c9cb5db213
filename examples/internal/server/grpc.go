// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"net"

	"go.opentelemetry.io/otel"
	"google.golang.org/grpc"
)

// GRPC is a gRPC server running in its own goroutine.
type GRPC struct {
	// Target is the server's address as a gRPC target, host:port.
	Target string
	srv    *grpc.Server
	done   chan struct{}
}

// StartGRPC serves srv on addr ("127.0.0.1:0" picks a free loopback port)
// until Shutdown.
func StartGRPC(addr string, srv *grpc.Server) (*GRPC, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &GRPC{Target: l.Addr().String(), srv: srv, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := srv.Serve(l); err != nil {
			otel.Handle(err)
		}
	}()
	return s, nil
}

// Shutdown stops the server gracefully, letting the RPCs in flight finish,
// or at once when ctx ends first, and waits for its goroutine to end. It
// returns ctx's error if it had to stop the server at once.
func (s *GRPC) Shutdown(ctx context.Context) error {
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.srv.GracefulStop()
	}()
	var err error
	select {
	case <-stopped:
	case <-ctx.Done():
		err = ctx.Err()
		s.srv.Stop()
		<-stopped
	}
	<-s.done
	return err
}
