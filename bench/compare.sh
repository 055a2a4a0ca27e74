#!/usr/bin/env bash
# Runs `lightner bench` and the PyTorch baseline (bench/pytorch_bench.py) back to back on the same
# machine and shapes, and prints the ratios (PyTorch time / lightner time: above 1 = lightner is
# faster). Needs a Python with torch: PYTHON=/path/to/python (default: python3).
#   bash bench/compare.sh [--shape bart-base|tiny] [--repeats N] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
shape=bart-base; repeats=5; threads=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --shape) shape=$2; shift 2;;
    --repeats) repeats=$2; shift 2;;
    --threads) threads=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
py=${PYTHON:-python3}
out=$(mktemp -d)
cargo build --release -q -p lightner-cli
./target/release/lightner --threads "$threads" bench --shape "$shape" --repeats "$repeats" --json > "$out/lightner.json"
"$py" bench/pytorch_bench.py --shape "$shape" --repeats "$repeats" --threads "$threads" > "$out/pytorch.json"
"$py" - "$out/lightner.json" "$out/pytorch.json" <<'PY'
import json, sys
r, t = (json.load(open(p)) for p in sys.argv[1:3])
print(f"shape {r['shape']}: torch {t['torch']}, {t['threads']} threads, median of {t['repeats']} (best in brackets)")
print(f"{'':28}{'lightner ms':>16}{'pytorch ms':>16}{'pytorch/lightner':>18}")
for k, name in [("forward_ms", "forward"), ("fwd_bwd_ms", "forward + backward"), ("train_step_ms", "train step (+AdamW)"), ("greedy_ms", "greedy decode")]:
    a, b = r[k], t[k]
    print(f"{name:28}{a[0]:>10.1f} ({a[1]:>6.1f}){b[0]:>9.1f} ({b[1]:>6.1f}){b[0]/a[0]:>18.2f}")
print(f"greedy tokens: lightner {r['greedy_tokens']}, pytorch {t['greedy_tokens']}"
      f" -> tokens/s {r['greedy_tokens']/(r['greedy_ms'][0]/1e3):.0f} vs {t['greedy_tokens']/(t['greedy_ms'][0]/1e3):.0f}")
PY
