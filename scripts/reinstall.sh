#!/usr/bin/env bash
# Re-install the editable package after changing pyproject.toml (entry points, dependencies) or
# tasks/lm_eval_yaml (copied into lm-eval's task folder, which does not follow links). Serialised
# with flock: several developers may share a venv. Python edits need no reinstall.
set -euo pipefail
cd "$(dirname "$0")/.."
exec flock /tmp/valueshift-install.lock sh -c '.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | grep -v "^WARNING: Location" || true; .venv/bin/python scripts/undo_dev_link.py'
