#!/usr/bin/env bash
# GPU check for a short slot (issue 15 item 5): on one GPU, no hub access, < 10 minutes.
# Builds a small random-initialised Llama (and its own tokenizer), then reports vLLM vs transformers
# generation tokens/s, multi-LoRA scoring on one engine vs one load per adapter, and a DPO step's
# time and memory, into gpu_check.json (default benchmarks/results/; $OUT when set, e.g. on a lent
# machine). Never part of the tests. Without a GPU it stops at once with exit status 3.
#   bash benchmarks/gpu_check.sh [--budget-s 540] [--adapters 3]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VALUESHIFT_PYTHON:-}"
if [[ -z "$PY" ]]; then
  if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: error: no NVIDIA GPU here (nvidia-smi missing or lists none); run this on a GPU machine" >&2
  exit 3
fi
nvidia-smi -L
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"   # valueshift from this checkout
OUTDIR="${OUT:-benchmarks/results}"
exec timeout 590 "$PY" benchmarks/gpu_check.py --out "$OUTDIR" "$@"
