// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package jaegertest lets tests export to, and read back from, the local
// Jaeger that scripts/test.sh starts.
//
// scripts/test.sh builds Jaeger v2 from the tools module, starts it with
// in-memory storage on 127.0.0.1 and exports two variables:
//
//	OTELCTX_JAEGER_QUERY  query HTTP API base URL (http://127.0.0.1:16686)
//	OTELCTX_JAEGER_OTLP   OTLP/HTTP base URL (http://127.0.0.1:4318)
//
// [Query], [OTLP] and [Exporter] read them. When they are missing or Jaeger
// does not answer, the test is skipped with a note on how to run it, except
// in CI (CI=true), where a Jaeger that is not there fails the test.
//
// [Traces] and [TraceByID] poll the two query APIs (/api/traces?service=S and
// /api/v3/traces/{id}) until the expected spans are stored, and return them in
// one shape, [Trace], so an assertion reads the same against either API.
// Spans are queryable shortly after export, never at once: poll, don't sleep.
package jaegertest
