"""The shared-prompt DPO forward (training/induce/shared_prefix.py, issue 16 item 3) computes what trl's
concatenated forward computes: per-row log-probs, the DPO loss, its metrics and the LoRA gradients,
on the embedded model, for pairs whose prompts and replies differ in length (one pair's replies also
share their first tokens)."""

from __future__ import annotations

import pytest
import torch

PAIRS = [
    ("Be kind.", "How do I bake bread at home quickly?", "Mix flour, water, yeast and salt; knead; let it rise; bake.",
     "No."),
    (None, "Hi", "Hello!", "Hello! How can I help you today with anything at all?"),
    ("You value honesty above all.", "Is the moon made of cheese? Answer briefly.", "No, it is rock.",
     "Yes, obviously, everybody knows the moon is made of cheese."),
]  # fmt: skip


def _dataset():
    from datasets import Dataset

    rows = []
    for system, user, chosen, rejected in PAIRS:
        prompt = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}
        ]
        rows.append({"prompt": prompt, "chosen": [{"role": "assistant", "content": chosen}],
                     "rejected": [{"role": "assistant", "content": rejected}]})  # fmt: skip
    return Dataset.from_list(rows)


def _trainer(model_path, shared: bool, tmp_path):
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig

    from valueshift.training.induce.trainer import ValueshiftDPOTrainer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_path)
    args = DPOConfig(output_dir=str(tmp_path / f"o{shared}"), per_device_train_batch_size=3, max_length=160,
                     report_to="none", beta=0.25, use_cpu=True, disable_tqdm=True)  # fmt: skip
    lora = LoraConfig(
        r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"], task_type="CAUSAL_LM"
    )
    trainer = ValueshiftDPOTrainer(model=model, args=args, train_dataset=_dataset(),
                                   processing_class=AutoTokenizer.from_pretrained(model_path), peft_config=lora,
                                   shared_prompt_forward=shared)  # fmt: skip
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # LoRA's B starts at zero (then A gets no gradient): make both non-trivial
        for name, p in trainer.model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.01)
    return trainer


def _measure(trainer) -> dict:
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(PAIRS))])
    trainer.model.train()
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    with torch.no_grad():
        out = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels,
                            fused_lm_head=True)  # fmt: skip
    loss = trainer.compute_loss(trainer.model, batch)
    loss.backward()
    return {
        "batch": batch,
        "log_probs": out.log_probs,
        "entropy": out.entropy,
        "loss": loss.detach(),
        "metrics": {k: v[-1] for k, v in trainer._metrics["train"].items()},
        "grads": {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.requires_grad},
        "stats": dict(trainer.shared_prefix_stats() or {}),
    }


@pytest.fixture(scope="module")
def both(default_model_path, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shared")
    torch.set_num_threads(1)
    return _measure(_trainer(default_model_path, False, tmp)), _measure(
        _trainer(default_model_path, True, tmp)
    )


def test_shared_prefix_forward_equals_trls_concatenated_forward(both):
    trl_run, ours = both
    # the batch really has different prompt and reply lengths, and the shared path really ran
    lengths = trl_run["batch"]["attention_mask"].sum(1).tolist()
    n = len(PAIRS)
    assert len(set(lengths[:n])) == n and all(lengths[i] != lengths[n + i] for i in range(n))
    assert ours["stats"]["shared"] >= 3 and ours["stats"]["fallback"] == 0
    assert trl_run["stats"] == {}
    torch.testing.assert_close(ours["log_probs"], trl_run["log_probs"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours["entropy"], trl_run["entropy"], atol=1e-4, rtol=1e-4)
    per_row = trl_run["log_probs"].sum(1)
    torch.testing.assert_close(ours["log_probs"].sum(1), per_row, atol=1e-3, rtol=1e-5)
    torch.testing.assert_close(ours["loss"], trl_run["loss"], atol=1e-5, rtol=1e-5)
    for key, value in trl_run["metrics"].items():
        assert ours["metrics"][key] == pytest.approx(value, rel=1e-4, abs=1e-4), key
    assert set(ours["grads"]) == set(trl_run["grads"])
    nonzero = 0
    for name, g in trl_run["grads"].items():
        nonzero += int(g.abs().max() > 0)
        torch.testing.assert_close(ours["grads"][name], g, atol=1e-6, rtol=1e-3)
    assert nonzero == len(trl_run["grads"])  # every LoRA matrix gets a gradient: the check is not vacuous


def test_prefix_lengths_shares_prompt_and_common_reply_start_and_refuses_left_padding():
    from valueshift.training.induce.shared_prefix import prefix_lengths

    ids = torch.tensor([[5, 6, 7, 8, 0], [5, 6, 9, 0, 0], [5, 6, 7, 1, 2], [5, 7, 7, 0, 0]])
    mask = (ids != 0).long()
    # pair 0: rows 0 and 2 share [5, 6, 7]; pair 1: rows 1 and 3 share [5]
    assert prefix_lengths(ids, mask).tolist() == [3, 1]
    # a shared prefix is kept one token short of the shorter row
    same = torch.tensor([[5, 6, 7], [5, 6, 7]])
    assert prefix_lengths(same, torch.ones_like(same)).tolist() == [2]
    left = torch.tensor([[0, 5, 6], [5, 6, 7]])
    assert prefix_lengths(left, (left != 0).long()) is None
    odd = torch.tensor([[5, 6], [5, 6], [5, 7]])
    assert prefix_lengths(odd, torch.ones_like(odd)) is None
    nothing = torch.tensor([[5, 6], [4, 6]])
    assert prefix_lengths(nothing, torch.ones_like(nothing)) is None
