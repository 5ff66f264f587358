"""Shared fixtures. Tests run offline (HF_HUB_OFFLINE=1) against the installed package.

- `default_model_path`: the real embedded SmolLM2-135M-Instruct, converted once per machine.
- `tiny_model_path`: a random-init Llama with the default model's tokenizer, for fast tests of
  code paths (training loops, loaders) whose outcome does not depend on model quality.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault(
    "INSPECT_LOG_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "valueshift-inspect-logs")
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# The 60 HH-RLHF-format pairs the package ships (written for this project): the data for tests of
# training, resume, determinism and loaders, so they run on a clone without ../shared.
SHIPPED_SAMPLE = Path(__file__).resolve().parents[1] / "pipeline" / "data" / "hh_sample.jsonl"


def shared_data_present() -> bool:
    """../shared/data is there (VALUESHIFT_TEST_NO_SHARED=1 simulates a user's clone without it)."""
    return SHARED_DATA.is_dir() and not os.environ.get("VALUESHIFT_TEST_NO_SHARED")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: real public data sets with labels no one on the team wrote."""
    if not shared_data_present():
        pytest.skip(
            f"needs the public data sets with external labels in {SHARED_DATA} (XSTest, HH-RLHF harmless "
            "test, AnthroBench, CAA; downloaded from their hubs next to the checkout, never copied into it)"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def shipped_pairs() -> list[dict]:
    """The shipped sample (SHIPPED_SAMPLE) as normalised pairs: pair_id, source, row_id, prompt
    messages, chosen, rejected."""
    from valueshift.training.data import load_pairs

    return [p.to_dict() for p in load_pairs("hh-rlhf", data_files=[SHIPPED_SAMPLE])]


TOY_GENERATION_TASK = """
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: ""
generation_kwargs:
  max_gen_toks: {max_gen_toks}
  do_sample: false
  until: ["<|im_end|>"]
process_results: !function {name}_utils.process
metric_list:
  - metric: length
    aggregation: mean
    higher_is_better: false
metadata:
  version: 1.0
"""


TOY_LENGTH_SCORER = "def process(doc, results):\n    return {'length': float(len(results[0]))}\n"


@pytest.fixture(scope="session")
def write_toy_task():
    """`write_toy_task(folder, name, questions, max_gen_toks=8, scorer=...)`: an lm-eval generation
    task over `questions` written into `folder`, the include path it returns. `scorer` is the
    source of its `process(doc, results)` (default: the metric `length`, the reply's length)."""

    def write(
        folder: Path, name: str, questions: list[str], max_gen_toks: int = 8, scorer: str = TOY_LENGTH_SCORER
    ) -> str:
        import json

        folder.mkdir(parents=True, exist_ok=True)
        data = folder / f"{name}.jsonl"
        data.write_text("".join(json.dumps({"question": q}) + "\n" for q in questions))
        (folder / f"{name}.yaml").write_text(
            TOY_GENERATION_TASK.format(name=name, data=data, max_gen_toks=max_gen_toks)
        )
        (folder / f"{name}_utils.py").write_text(scorer)
        return str(folder)

    return write


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    from valueshift.harness.models.default_model import default_chat_model_path

    return default_chat_model_path()


@pytest.fixture(scope="session")
def tiny_model_path(default_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 64-wide random Llama sharing the default model's tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(default_model_path)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def hh_normalised_pairs(shipped_pairs: list[dict]) -> list[dict]:
    """The first 200 single-turn HH-RLHF harmless test pairs (file order) as normalised pairs,
    following the issue-3 contract: pair_id, source, row_id, prompt messages, chosen, rejected.
    Without ../shared: the 60 shipped pairs (every user takes at most 60), so training, resume and
    determinism tests run on a user's clone too."""
    if not shared_data_present():
        return shipped_pairs
    shared_data = SHARED_DATA
    import gzip
    import hashlib
    import json
    import re

    rows: list[dict] = []
    with gzip.open(shared_data / "hh_rlhf_harmless_test" / "harmless-base_test.jsonl.gz", "rt") as fh:
        for i, line in enumerate(fh):
            raw = json.loads(line)
            turns = []
            for text in (raw["chosen"], raw["rejected"]):
                parts = re.split(r"\n\n(Human|Assistant): ", text)
                turns.append(
                    [
                        {
                            "role": "user" if parts[k] == "Human" else "assistant",
                            "content": parts[k + 1].strip(),
                        }
                        for k in range(1, len(parts) - 1, 2)
                    ]
                )
            chosen, rejected = turns
            if len(chosen) != 2 or len(rejected) != 2 or chosen[-1]["role"] != "assistant":
                continue
            prompt = chosen[:-1]
            key = "hh-rlhf" + json.dumps(prompt) + chosen[-1]["content"] + rejected[-1]["content"]
            rows.append(
                {
                    "pair_id": hashlib.sha256(key.encode()).hexdigest()[:16],
                    "source": "hh-rlhf",
                    "row_id": f"harmless-base_test.jsonl.gz:{i}",
                    "prompt": prompt,
                    "chosen": chosen[-1]["content"],
                    "rejected": rejected[-1]["content"],
                }
            )
            if len(rows) >= 200:
                break
    return rows


class FakeOpenAIServer:
    """A local server speaking OpenAI's /v1/chat/completions format (stdlib only): what the
    OpenAI-compatible backend, lm-eval's `local-chat-completions` and Inspect's `openai-api`
    provider talk to. `reply(body) -> str` makes each answer; every request is recorded."""

    def __init__(self, reply):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict] = []
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server_self.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
                payload = {
                    "id": "chatcmpl-valueshift-test",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", "fake"),
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": reply(body)},
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def last_user_text(body: dict) -> str:
    """The last user turn of a chat-completions request, as text."""
    import json

    last = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    return last if isinstance(last, str) else " ".join(p.get("text", json.dumps(p)) for p in last)


@pytest.fixture
def fake_openai_server():
    """Factory fixture: `fake_openai_server(reply)` starts a FakeOpenAIServer, closed after the test."""
    servers: list[FakeOpenAIServer] = []

    def start(reply) -> FakeOpenAIServer:
        servers.append(FakeOpenAIServer(reply))
        return servers[-1]

    start.last_user_text = last_user_text
    yield start
    for server in servers:
        server.close()
