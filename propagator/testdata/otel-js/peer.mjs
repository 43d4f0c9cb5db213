// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// The OpenTelemetry JS peer of propagator's TestOpenTelemetryJS: an HTTP
// server on 127.0.0.1, at a port the system picks, printed as the first line
// on stdout. It speaks through @opentelemetry/core's W3C Trace Context and
// Baggage propagators, as a Node.js service of OpenTelemetry JS does:
//
//   POST /extract  extracts the request's headers and answers what it
//                  extracted, and the headers it injects from that context;
//   POST /inject   takes a JSON context (see inject below) and answers the
//                  headers it injects for it.
//
// It exits when stdin closes, so that it never outlives the test.

import http from 'node:http';
import {
  CompositePropagator,
  TraceState,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import {
  ROOT_CONTEXT,
  baggageEntryMetadataFromString,
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  trace,
} from '@opentelemetry/api';

const prop = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

// view is what a context holds, as JSON: the span context and the baggage
// entries in key order, each [key, value, metadata or null].
function view(ctx) {
  const sc = trace.getSpanContext(ctx);
  const bag = propagation.getBaggage(ctx);
  const entries = bag ? bag.getAllEntries() : [];
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    traceId: sc ? sc.traceId : '',
    spanId: sc ? sc.spanId : '',
    traceFlags: sc ? sc.traceFlags : 0,
    traceState: sc && sc.traceState ? sc.traceState.serialize() : '',
    baggage: entries.map(([k, e]) => [k, e.value, e.metadata ? e.metadata.toString() : null]),
  };
}

function injected(ctx) {
  const out = {};
  prop.inject(ctx, out, defaultTextMapSetter);
  return out;
}

// context builds a context from {traceId, spanId, traceFlags, traceState,
// baggage: [[key, value, metadata or null]]}.
function context(v) {
  let ctx = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: v.traceId,
    spanId: v.spanId,
    traceFlags: v.traceFlags,
    isRemote: true,
    traceState: v.traceState ? new TraceState(v.traceState) : undefined,
  });
  const entries = {};
  for (const [k, value, meta] of v.baggage) {
    entries[k] = meta == null ? { value } : { value, metadata: baggageEntryMetadataFromString(meta) };
  }
  return propagation.setBaggage(ctx, propagation.createBaggage(entries));
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      if (req.method !== 'POST') throw new Error(`method ${req.method}`);
      if (req.url === '/extract') {
        const ctx = prop.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
        body = { extracted: view(ctx), injected: injected(ctx) };
      } else if (req.url === '/inject') {
        body = injected(context(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      } else {
        throw new Error(`path ${req.url}`);
      }
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(String(err));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
