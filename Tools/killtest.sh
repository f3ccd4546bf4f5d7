#!/usr/bin/env bash
# Fault test: kill `learner train` with SIGKILL at random moments (checkpoints are written every
# 10 steps, so some kills land mid-write), resume it each time, and check that
#  - every checkpoint left in the folder loads, after every kill;
#  - the stale run lock of the killed process is taken over;
#  - the resumed run ends bit-identical (same tensors and training state) to an uninterrupted one.
# Usage: bash Tools/killtest.sh [KILLS] [SEED]
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
kills="${1:-20}"
seed="${2:-$(date +%s)}"
swift build -c release --product learner >/dev/null || exit 1
bin=.build/release/learner
work="$(mktemp -d)"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
flags=(--preset quick --steps 300 --d_model 32 --batch_size 64 --ckpt_every 10 --log_every 50 --seed 11)
RANDOM=$seed
echo "kill test: $kills kills, seed $seed, folder $work"

"$bin" train "${flags[@]}" --save_dir "$work/straight" >/dev/null 2>&1 || { echo "FAIL: the uninterrupted run failed"; exit 1; }

bad=0; takeovers=0; done_early=0
for i in $(seq 1 "$kills"); do
    if [ -f "$work/killed/latest.safetensors" ]; then
        "$bin" train --resume "$work/killed/latest.safetensors" --save_dir "$work/killed" > "$work/log" 2>&1 &
    else
        "$bin" train "${flags[@]}" --save_dir "$work/killed" --overwrite > "$work/log" 2>&1 &
    fi
    pid=$!
    # 0.3 to 3.3 s: inside start-up, a training stretch or a checkpoint write.
    sleep "$(printf '0.%d' $((RANDOM % 10)))"; sleep $((RANDOM % 3))
    if kill -9 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null; else wait "$pid"; done_early=$((done_early + 1)); fi
    grep -q "stale lock" "$work/log" && takeovers=$((takeovers + 1))
    for f in "$work"/killed/*.safetensors; do
        [ -e "$f" ] || continue
        if ! "$bin" ask --checkpoint "$f" "Is 3 greater than 2?" >/dev/null 2>"$work/err"; then
            echo "FAIL after kill $i: $f does not load: $(tail -1 "$work/err")"; bad=$((bad + 1))
        fi
    done
done
if [ -f "$work/killed/latest.safetensors" ]; then
    "$bin" train --resume "$work/killed/latest.safetensors" --save_dir "$work/killed" > "$work/log" 2>&1 || { echo "FAIL: the final resume failed: $(tail -1 "$work/log")"; exit 1; }
else
    "$bin" train "${flags[@]}" --save_dir "$work/killed" --overwrite > "$work/log" 2>&1 || exit 1
fi
# Same tensors, same data section and the same metadata once each run's folder name is blanked.
same=$(python3 - "$work/straight/latest.safetensors" "$work/killed/latest.safetensors" "$work/straight" "$work/killed" <<'PY'
import json, struct, sys
def load(path, folder):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", {})
    options = json.loads(meta.get("options", "{}"))
    options["saveDir"] = "RUN"  # the one option the two runs differ in
    meta["options"] = options
    return header, meta, b[8 + n:]
a, b = load(sys.argv[1], sys.argv[3]), load(sys.argv[2], sys.argv[4])
if a == b: print("yes")
else:
    diff = [k for k in set(a[0]) | set(b[0]) if a[0].get(k) != b[0].get(k)]
    diff += ["metadata " + k for k in set(a[1]) | set(b[1]) if a[1].get(k) != b[1].get(k)]
    if a[2] != b[2]: diff.append("data section")
    print("no (" + ", ".join(sorted(diff)[:8]) + ")")
PY
)
echo "kills: $kills (runs that finished before their kill: $done_early), stale locks taken over: $takeovers"
echo "checkpoints that failed to load: $bad"
echo "final latest.safetensors bit-identical to the uninterrupted run: $same"
[ "$bad" -eq 0 ] && [ "$same" = yes ]
