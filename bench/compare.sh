#!/usr/bin/env bash
# Runs `lightner bench` and the PyTorch baseline (bench/pytorch_bench.py) back to back on the same
# machine and shapes, and prints the ratios (PyTorch time / lightner time: above 1 = lightner is
# faster). Needs a Python with torch: PYTHON=/path/to/python (default: python3).
#   bash bench/compare.sh [--shape bart-base|tiny] [--repeats N] [--threads N] [--rounds R]
# --rounds R (default 1) alternates the two R times (lightner, PyTorch, lightner, ...) and adds
# each round's ratios and the ratio of the best times over all rounds: on a machine whose speed
# drifts from minute to minute, one back-to-back pair can put a slow minute on one side only,
# while contention can only slow a run down, so the best over alternating rounds is the figure
# least moved by it.
set -euo pipefail
cd "$(dirname "$0")/.."
shape=bart-base; repeats=5; threads=$(nproc); rounds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --shape) shape=$2; shift 2;;
    --repeats) repeats=$2; shift 2;;
    --threads) threads=$2; shift 2;;
    --rounds) rounds=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
py=${PYTHON:-python3}
out=$(mktemp -d)
cargo build --release -q -p lightner-cli
for i in $(seq 1 "$rounds"); do
  ./target/release/lightner --threads "$threads" bench --shape "$shape" --repeats "$repeats" --json > "$out/lightner-$i.json"
  "$py" bench/pytorch_bench.py --shape "$shape" --repeats "$repeats" --threads "$threads" > "$out/pytorch-$i.json"
done
"$py" - "$out" "$rounds" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
runs = [tuple(json.load(open(f"{out}/{who}-{i}.json")) for who in ("lightner", "pytorch")) for i in range(1, rounds + 1)]
keys = [("forward_ms", "forward"), ("fwd_bwd_ms", "forward + backward"), ("train_step_ms", "train step (+AdamW)"), ("greedy_ms", "greedy decode")]
for i, (r, t) in enumerate(runs, 1):
    if rounds > 1:
        print(f"round {i} of {rounds}")
    print(f"shape {r['shape']}: torch {t['torch']}, {t['threads']} threads, median of {t['repeats']} (best in brackets)")
    print(f"{'':28}{'lightner ms':>16}{'pytorch ms':>16}{'pytorch/lightner':>18}")
    for k, name in keys:
        a, b = r[k], t[k]
        print(f"{name:28}{a[0]:>10.1f} ({a[1]:>6.1f}){b[0]:>9.1f} ({b[1]:>6.1f}){b[0]/a[0]:>18.2f}")
    print(f"greedy tokens: lightner {r['greedy_tokens']}, pytorch {t['greedy_tokens']}"
          f" -> tokens/s {r['greedy_tokens']/(r['greedy_ms'][0]/1e3):.0f} vs {t['greedy_tokens']/(t['greedy_ms'][0]/1e3):.0f}")
if rounds > 1:
    print(f"over {rounds} alternating rounds: best time of each side, and the range of the rounds' median ratios")
    print(f"{'':28}{'lightner best':>16}{'pytorch best':>16}{'best ratio':>12}{'median ratios':>18}")
    for k, name in keys:
        a, b = min(r[k][1] for r, _ in runs), min(t[k][1] for _, t in runs)
        ratios = sorted(t[k][0] / r[k][0] for r, t in runs)
        print(f"{name:28}{a:>16.1f}{b:>16.1f}{b/a:>12.2f}{f'{ratios[0]:.2f} to {ratios[-1]:.2f}':>18}")
PY
