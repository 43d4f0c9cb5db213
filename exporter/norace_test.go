// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

//go:build !race

package exporter

const raceEnabled = false
