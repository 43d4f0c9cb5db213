// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

//go:build race

package exporter

// The race detector makes each firing of TestRearmingTimerStaysBounded
// tens of times slower, so it fires fewer times under -race.
const raceEnabled = true
