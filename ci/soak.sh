#!/usr/bin/env bash
# Soak: children churn for PROCPUMP_STRESS_SECONDS (default 600) while RSS, threads and
# descriptors are sampled every second; fails on growth. CI runs it for 15 s.
set -euo pipefail
cd "$(dirname "$0")/.."
export PROCPUMP_STRESS_SECONDS="${PROCPUMP_STRESS_SECONDS:-600}"
cargo run --release --example soak
