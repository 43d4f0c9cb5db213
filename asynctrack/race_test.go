// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

//go:build race

package asynctrack

// The race detector allows at most 8128 live goroutines, so the bleed test
// keeps fewer request scopes in flight under -race.
const raceEnabled = true
