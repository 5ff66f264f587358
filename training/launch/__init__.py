"""Launchers for sweeps at paper scale: one cell function (`cell.run_cell`) served by every launcher.

Why this shape: a sweep cell is already an ordinary, resumable induction folder (see
`valueshift.training.induce.sweep`), so a launcher only has to decide *where* a cell runs. The
cell function runs one cell through the sweep's own loop (same skip-if-finished, same runs index,
same checkpoint resume) and leaves a small state file that `valueshift sweep SPEC --status` reads:

- `local`           in this process, one cell after another (today's behaviour, plus state files);
- `submitit-local`  one subprocess per cell through submitit's LocalExecutor (a workstation);
- `slurm`           one SLURM array job, one task per cell, through submitit (`valueshift[slurm]`);
- `ray`             one Ray task per cell (`pip install ray`), if Ray is installed.

Modules: `cell` (the cell function and its state files), `state` (launch records and cell status),
`launchers` (submission), `plan` (the replication plan: jobs, GPU-hours, disk), `cli` (flags).
"""
