#!/usr/bin/env bash
# Load test of `lightner serve` on loopback, beside `lightner predict` on the same texts.
#
#   bash bench/serve-load.sh PACK [TEXTS] [SOAK_SECS]
#
# PACK: a pack folder (served as the only pack, named "p"). TEXTS: one text per line (default:
# the first 512 sentences of MIT-Movie's test file, words joined by spaces). SOAK_SECS (default
# 0: no soak): a run at concurrency 8 that long, with the server's resident memory at its start
# and end.
#
# What it measures, in this order (nothing else should run on the machine meanwhile):
#   1. `lightner predict` once over all texts (process start to exit): the batch ceiling;
#   2. `lightner predict` once per text, for the first 8 texts: what tagging a request costs
#      without a server;
#   3. the server at concurrency 1, 8 and 64, one text per request;
#   4. overload: a server with --queue 8 under 80 clients; only 200 and 429 may come back, and
#      its log must hold no error;
#   5. the soak, when asked.
# Every figure is printed with the command that made it.
set -euo pipefail
cd "$(dirname "$0")/.."
pack=${1:?usage: bash bench/serve-load.sh PACK [TEXTS] [SOAK_SECS]}
texts=${2:-}
soak=${3:-0}
threads=${LIGHTNER_THREADS:-2}

cargo build --release --locked -p lightner-cli --bin lightner --example serve_load >&2
bin=target/release/lightner
load=target/release/examples/serve_load
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$texts" ]; then
  texts=$work/texts.txt
  # CoNLL to one sentence per line: the first column, blank lines end sentences.
  # (awk stops itself: `head` would end it with SIGPIPE, which pipefail counts as a failure.)
  awk 'NF == 0 { if (line != "" && n < 512) { print line; n++ } line = ""; next }
       { line = (line == "" ? $1 : line " " $1) }
       END { if (line != "" && n < 512) print line }' data/mit-movie/test.txt >"$texts"
fi
n=$(grep -c . "$texts")
mkdir -p "$work/packs"
cp -r "$pack" "$work/packs/p"

echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; --threads $threads; $n texts"

echo "## 1. lightner --threads $threads predict --pack PACK --input TEXTS (once, all $n texts)"
t0=$(date +%s.%N)
"$bin" -q --threads "$threads" predict --pack "$pack" --input "$texts" --output "$work/out.jsonl"
t1=$(date +%s.%N)
echo "predict, all texts: $(echo "$n / ($t1 - $t0)" | bc -l | xargs printf '%.1f') texts/s ($(echo "$t1 - $t0" | bc -l | xargs printf '%.2f') s, loading included)"

echo "## 2. lightner predict once per text (first 8 texts)"
head -n 8 "$texts" >"$work/eight.txt"
t0=$(date +%s.%N)
while IFS= read -r line; do
  printf '%s\n' "$line" >"$work/one.txt"
  "$bin" -q --threads "$threads" predict --pack "$pack" --input "$work/one.txt" --output "$work/one.jsonl"
done <"$work/eight.txt"
t1=$(date +%s.%N)
echo "predict per text: $(echo "8 / ($t1 - $t0)" | bc -l | xargs printf '%.2f') texts/s ($(echo "($t1 - $t0) / 8 * 1000" | bc -l | xargs printf '%.0f') ms a text)"

start_server() { # extra serve flags...
  "$bin" --threads "$threads" serve --packs "$work/packs" --addr 127.0.0.1:0 "$@" \
    >"$work/addr" 2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 600); do
    grep -q listening "$work/addr" 2>/dev/null && break
    sleep 0.1
  done
  addr=$(sed -n 's|listening on http://||p' "$work/addr")
  [ -n "$addr" ] || { cat "$work/server.log"; exit 1; }
}
stop_server() {
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}
rss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$server_pid/status"; }

echo "## 3. lightner --threads $threads serve --packs DIR; serve_load --concurrency C (one text a request)"
start_server
echo "server RSS after loading: $(rss_kb) KB"
"$load" --addr "$addr" --pack p --input "$texts" --concurrency 1 --requests 4 >/dev/null # warm-up
for c in 1 8 64; do
  "$load" --addr "$addr" --pack p --input "$texts" --concurrency "$c" --requests "$n" --max-secs 300
done
stop_server

echo "## 4. overload: serve --queue 8; serve_load --concurrency 80"
start_server --queue 8
"$load" --addr "$addr" --pack p --input "$texts" --concurrency 80 --requests $((n * 2)) --max-secs 300 | tee "$work/overload"
stop_server
if grep -Eiq 'error|panick' "$work/server.log"; then
  echo "FAIL: the server's log holds an error:"; cat "$work/server.log"; exit 1
fi
if grep -Eo 'status .*' "$work/overload" | grep -Eo '[0-9]+×' | grep -vqE '^(200|429)×'; then
  echo "FAIL: a status other than 200 and 429 under overload"; exit 1
fi
echo "overload: only 200 and 429, no error in the log"

if [ "$soak" -gt 0 ]; then
  echo "## 5. soak: serve_load --concurrency 8 for $soak s"
  start_server
  "$load" --addr "$addr" --pack p --input "$texts" --concurrency 8 --requests 64 >/dev/null # warm-up
  before=$(rss_kb)
  "$load" --addr "$addr" --pack p --input "$texts" --concurrency 8 --requests 100000000 --max-secs "$soak"
  after=$(rss_kb)
  echo "soak RSS: $before KB after warm-up, $after KB after $soak s"
  stop_server
fi
