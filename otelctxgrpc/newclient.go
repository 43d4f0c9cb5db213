// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxgrpc

import (
	"context"

	"google.golang.org/grpc"

	"github.com/otelctx/otelctx/asynctrack"
)

// NewClient is grpc.NewClient made outside every asynctrack scope
// (asynctrack.Exit); opts are grpc.NewClient's, DialOptions among them. grpc.NewClient starts the
// goroutines that serve the ClientConn's resolver and balancer for its whole
// life, and these start its connections' dialers, readers and writers: made
// inside a request, they would all see that request's values for as long as
// its scope stays open. NewClient keeps them out of every request wherever
// it is called, a sync.Once in the first handler that needs the backend
// included.
//
//	cc, err := otelctxgrpc.NewClient(target, append(
//		otelctxgrpc.DialOptions(nil, otelgrpc.NewClientHandler()),
//		grpc.WithTransportCredentials(creds))...)
func NewClient(target string, opts ...grpc.DialOption) (cc *grpc.ClientConn, err error) {
	asynctrack.Exit(context.Background(), func(context.Context) {
		cc, err = grpc.NewClient(target, opts...)
	})
	return cc, err
}
