#!/usr/bin/env bash
# Adapts the warm-started MiniLM backbone to NER on CoNLL-2003 (the source domain of the transfer
# study, docs/transfer.md) and bakes it into a plain backbone folder that `--model` loads:
#
#   bash scripts/adapt-conll.sh [OUT]      (default: .cache/backbones/minilm-conll)
#
# 1. `lightner train --full` on CoNLL-2003 train (every parameter, prompts included), scored on
#    CoNLL-2003 test; resumable: rerun the script after an interruption and it goes on from the
#    last finished epoch (`--checkpoint`). The pack lands in OUT.pack.
# 2. `lightner export` writes the pack's trained backbone as OUT (config.json, model.safetensors
#    with BART names, the tokenizer), and the checkpoint is removed. A second run finds OUT and
#    does nothing.
#
# Environment: THREADS (default 1, so that a second job can use the other core), EPOCHS (2),
# SENTENCES (all; a number adapts on the first N sentences of the training file).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.cache/backbones/minilm-conll}
threads=${THREADS:-1}
epochs=${EPOCHS:-2}
bin=target/release/lightner
bash scripts/fetch-minilm.sh
[ -x "$bin" ] || cargo build --release --locked -p lightner-cli
if [ -f "$out/model.safetensors" ]; then
  echo "adapted backbone already in $out"
  exit 0
fi
train=data/conll2003/train.txt
if [ -n "${SENTENCES:-}" ]; then
  mkdir -p "$(dirname "$out")"
  train="$out.train-$SENTENCES.txt"
  # The first N sentences (blank-line separated), written whole before use.
  awk -v n="$SENTENCES" 'BEGIN{RS=""; ORS="\n\n"} NR<=n' data/conll2003/train.txt > "$train.tmp"
  mv "$train.tmp" "$train"
fi
if [ ! -f "$out.pack/manifest.json" ]; then
  /usr/bin/time -f "adaptation: %e s wall, %M KB peak" \
    "$bin" --threads "$threads" train --model .cache/backbones/all-MiniLM-L6-v2 \
      --train "$train" --test data/conll2003/test.txt --labels conll2003 \
      --full --lr 2e-4 --batch-size 8 --epochs "$epochs" --holdout 0 --seed 1 \
      --checkpoint "$out.ckpt" --out "$out.pack"
fi
"$bin" export --pack "$out.pack" --out "$out"
# The pack is complete: the resumable state (optimizer moments included, about 4x the weights) is
# no longer needed.
rm -rf "$out.ckpt"
