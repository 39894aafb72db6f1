#!/usr/bin/env bash
# Every GPU-only path once, on a machine with one GPU (about 8 minutes), into one markdown table:
#   bash scripts/gpu_check.sh                 # writes gpu_check.md
#   bash scripts/gpu_check.sh --dry-run       # the plumbing on the CPU at the smallest sizes
# Options: python -m sdakd_basicsr.gpu_check --help
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m sdakd_basicsr.gpu_check "$@"
