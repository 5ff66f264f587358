"""`valueshift sweep SPEC --plan` (issue 15 item 4): the job table, GPU-hours, disk and commands,
from the throughput model in the file, with nothing run and no data needed."""

from __future__ import annotations

import math
import re
from pathlib import Path

from valueshift.harness.cli import run_command
from valueshift.training.launch.plan import lora_params

ROOT = Path(__file__).resolve().parents[2]
GRID = ROOT / "training" / "recipes" / "paper" / "grid.yaml"


def test_paper_grid_plan_prints_the_job_table_totals_and_commands(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the grid's relative out_dir must not be created anywhere
    assert run_command(["sweep", str(GRID), "--plan", "--partition", "gpu"]) == 0
    out = capsys.readouterr().out
    assert "training jobs (one per cell):" in out
    header = next(line for line in out.splitlines() if line.startswith("model "))
    assert all(col in header for col in ("stage", "arm", "jobs", "GPU-h", "disk GB"))
    rows = [line.split() for line in out.splitlines() if re.match(r"^(meta-llama|allenai)/", line)]
    assert len(rows) == 8 * 3  # 8 models x 3 arms
    # 16 values x 3 seeds per trained arm, 16 prompt-only cells per model
    jobs = {(r[0], r[2]): int(r[3]) for r in rows}
    assert jobs[("meta-llama/Llama-3.1-8B-Instruct", "value")] == 48
    assert jobs[("meta-llama/Llama-3.2-1B", "system_prompt_only")] == 16
    assert {r[1] for r in rows} == {"base", "sft", "instruct"}
    total = re.search(r"total: (\d+) jobs, (\d+) GPU-hours, disk (\d+) GB at peak", out)
    assert total and int(total[1]) > 1000 and int(total[2]) > 0 and int(total[3]) > 0
    assert "extraction: " in out and "scoring: " in out
    assert "valueshift sweep " + str(GRID) + " --launcher slurm --partition gpu" in out
    assert "--shard $SLURM_ARRAY_TASK_ID/" in out and "valueshift extract --merge" in out
    assert "subset size assumed for" in out  # values without a published size are flagged
    assert not (tmp_path / "runs").exists()


def test_plan_follows_the_stated_throughput_model(capsys, tmp_path):
    """One model, one cell with fixed steps: the printed GPU-hours and disk are the file's formula."""
    subsets = tmp_path / "subsets"
    subsets.mkdir()
    (subsets / "empathy.jsonl").write_text("{}\n" * 10)  # counted, not assumed
    (tmp_path / "throughput.yaml").write_text(
        (ROOT / "training" / "recipes" / "paper" / "throughput.yaml").read_text()
    )
    spec = tmp_path / "grid.yaml"
    spec.write_text(
        f"name: t\nrecipe: {ROOT / 'training/recipes/paper/dpo.yaml'}\nout_dir: {tmp_path / 'runs'}\n"
        f"subsets_dir: {subsets}\nvalues: [empathy]\nmodels: [meta-llama/Llama-3.1-8B]\nmax_steps: [1000]\n"
    )
    assert run_command(["sweep", str(spec), "--plan"]) == 0
    out = capsys.readouterr().out
    (row,) = [line.split() for line in out.splitlines() if line.startswith("meta-llama/Llama-3.1-8B ")]
    tokens = 1000 * 8 * 4 * 2 * 400  # steps x batch x accumulation x (chosen + rejected) x sequence
    seconds = tokens * 8 * 8.03e9 / (989e12 * 0.30) + 300
    assert float(row[6]) == round(seconds / 3600, 1)
    adapter = lora_params({"hidden": 4096, "intermediate": 14336, "layers": 32, "kv_dim": 1024}, 64)
    assert adapter == 167_772_160  # r=64 all-linear LoRA on Llama-3.1-8B
    peak_gb = (adapter * 4 + 2 * adapter * (4 + 8)) / 1e9
    assert math.isclose(float(row[7]), round(peak_gb, 1))
    assert row[4] == "10"  # pairs counted from the subset file
    assert "subset size assumed" not in out


def test_paper_recipe_is_a_valid_recipe():
    from valueshift.training.induce.recipe import load_recipe

    recipe = load_recipe(ROOT / "training" / "recipes" / "paper" / "dpo.yaml", check_device=False)
    assert recipe.induction.system_prompt_in_training and recipe.model.use_peft
    assert recipe.training.loss_type == ["sigmoid"]  # DPO
