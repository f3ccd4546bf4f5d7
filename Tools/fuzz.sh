#!/usr/bin/env bash
# Fuzz every reader of untrusted input (question files, the tokenizer, checkpoint headers) with
# 10^6 seeded mutations each, in a release build, and report peak memory. A crash ends the
# script with the process's signal; the same --seed replays the same inputs.
# Usage: bash Tools/fuzz.sh [INPUTS_PER_READER] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
inputs="${1:-1000000}"
seed="${2:-$(date +%s)}"
swift build -c release --product learner >/dev/null
echo "learner fuzz --inputs $inputs --seed $seed"
/usr/bin/time -f "wall %e s, peak RSS %M KiB" .build/release/learner fuzz --inputs "$inputs" --seed "$seed"
