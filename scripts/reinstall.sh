#!/usr/bin/env bash
# Re-install the package after changing pyproject.toml (entry points, force-include), then re-link
# the installed copy to this checkout. Serialised with flock: several developers may share a venv.
set -euo pipefail
cd "$(dirname "$0")/.."
exec flock /tmp/valueshift-install.lock sh -c '.venv/bin/python -m pip install -q --no-deps --no-build-isolation . 2>&1 | grep -v "^WARNING: Location" || true; .venv/bin/python scripts/dev_link.py'
