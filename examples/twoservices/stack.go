// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package twoservices

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"sync"

	"google.golang.org/grpc"

	"github.com/otelctx/otelctx/examples/internal/server"
	"github.com/otelctx/otelctx/examples/telemetry"
	"github.com/otelctx/otelctx/examples/userservice"
	"github.com/otelctx/otelctx/exporter"
	"github.com/otelctx/otelctx/otelctxgrpc"
)

// Config says how to start a Stack. The zero Config is valid.
type Config struct {
	// Sink is where spans go; the default is telemetry.NewSink().
	Sink *telemetry.Sink
	// FrontendName, BackendName and GreeterName are the services'
	// service.name; the defaults are "frontend", "backend" and "greeter".
	FrontendName, BackendName, GreeterName string
	// FrontendAddr is the frontend's listen address; the default,
	// "127.0.0.1:0", picks a free loopback port.
	FrontendAddr string
}

// Stack is the frontend, the backend and the backend's upstream (HTTP) and
// the greeter (gRPC), each serving on its own loopback port, and the
// process's exporter of async-resource spans. Run one Stack per process at
// a time: the exporter listens to every async resource of the process.
type Stack struct {
	Frontend, Backend, Upstream *server.Server
	Greeter                     *server.GRPC
	// FrontendTel, BackendTel and GreeterTel are the services'
	// instrumentation.
	FrontendTel, BackendTel, GreeterTel *telemetry.Service
	// UpstreamStandIn counts what reached the upstream.
	UpstreamStandIn *userservice.Upstream
	Sink            *telemetry.Sink

	exporter *exporter.Exporter
	db       *userservice.DB
	frontend *Frontend
	// toGreeter is the frontend's ClientConn to the greeter.
	toGreeter *grpc.ClientConn

	shutdownOnce sync.Once
	shutdownErr  error
}

// Start starts a Stack. Shut it down with Shutdown.
func Start(ctx context.Context, c Config) (st *Stack, err error) {
	st = &Stack{Sink: c.Sink, UpstreamStandIn: &userservice.Upstream{}}
	if st.Sink == nil {
		st.Sink = telemetry.NewSink()
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, st.Shutdown(ctx))
		}
	}()
	st.exporter = telemetry.NewAsyncExporter()

	if st.Upstream, err = server.Start("127.0.0.1:0", st.UpstreamStandIn); err != nil {
		return st, err
	}
	st.db = userservice.NewDB()
	// The backend sends no baggage anywhere: its upstream is a third party.
	st.BackendTel, err = telemetry.NewService(ctx, cmp.Or(c.BackendName, "backend"), st.Sink, telemetry.Propagator())
	if err != nil {
		return st, err
	}
	if st.Backend, err = server.Start("127.0.0.1:0", userservice.New(st.BackendTel, st.db, st.Upstream.URL).Handler()); err != nil {
		return st, err
	}
	// The greeter calls nothing.
	st.GreeterTel, err = telemetry.NewService(ctx, cmp.Or(c.GreeterName, "greeter"), st.Sink, telemetry.Propagator())
	if err != nil {
		return st, err
	}
	srv := grpc.NewServer(st.GreeterTel.GRPCServerOptions()...)
	srv.RegisterService(&GreeterDesc, Greeter{})
	if st.Greeter, err = server.StartGRPC("127.0.0.1:0", srv); err != nil {
		return st, err
	}
	// The frontend sends user.id to the backend and to the greeter, and
	// only there: an egress rule matches a gRPC target's host:port, here
	// the greeter's.
	st.FrontendTel, err = telemetry.NewService(ctx, cmp.Or(c.FrontendName, "frontend"), st.Sink,
		telemetry.Propagator(st.Backend.Host, st.Greeter.Target))
	if err != nil {
		return st, err
	}
	if st.toGreeter, err = otelctxgrpc.NewClient(st.Greeter.Target, st.FrontendTel.GRPCDialOptions()...); err != nil {
		return st, err
	}
	st.frontend = NewFrontend(st.FrontendTel, st.Backend.URL, st.toGreeter)
	st.Frontend, err = server.Start(cmp.Or(c.FrontendAddr, "127.0.0.1:0"), st.frontend.Handler())
	return st, err
}

// LiveView is the live view of the process's async resources: the
// exporter's Handler.
func (st *Stack) LiveView() http.Handler { return st.exporter.Handler() }

// Shutdown stops the servers, front to back, each after the clients
// connected to it (the greeter after the frontend's ClientConn), then the
// frontend's pool, the exporter (ending the spans of resources still live)
// and the services' TracerProviders (flushing their spans), and closes the
// database. Calls after the first return the first one's error.
func (st *Stack) Shutdown(ctx context.Context) error {
	st.shutdownOnce.Do(func() { st.shutdownErr = st.shutdown(ctx) })
	return st.shutdownErr
}

func (st *Stack) shutdown(ctx context.Context) error {
	var err error
	if st.Frontend != nil {
		err = st.Frontend.Shutdown(ctx)
	}
	if st.toGreeter != nil {
		err = errors.Join(err, st.toGreeter.Close())
	}
	if st.Greeter != nil {
		err = errors.Join(err, st.Greeter.Shutdown(ctx))
	}
	for _, s := range []struct {
		srv     *server.Server
		clients *telemetry.Service
	}{{st.Backend, st.FrontendTel}, {st.Upstream, st.BackendTel}} {
		if s.clients != nil {
			s.clients.CloseIdleConnections()
		}
		if s.srv != nil {
			err = errors.Join(err, s.srv.Shutdown(ctx))
		}
	}
	if st.frontend != nil {
		st.frontend.Close()
	}
	var services []*telemetry.Service
	for _, s := range []*telemetry.Service{st.FrontendTel, st.BackendTel, st.GreeterTel} {
		if s != nil {
			services = append(services, s)
		}
	}
	err = errors.Join(err, telemetry.ShutdownAll(ctx, st.exporter, services...))
	if st.db != nil {
		err = errors.Join(err, st.db.Close())
	}
	return err
}
