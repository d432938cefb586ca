#!/usr/bin/env bash
# Runs the HTTP benchmarks: makes sure Redis and PostgreSQL answer and wrk is
# installed, then runs every comparison in one interleaved invocation.
set -euo pipefail
cd "$(dirname "$0")/../.."
source .ci/services
if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk
fi
cargo run --release -p gimlet-bench -- "$@"
