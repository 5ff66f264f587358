"""valueshift.pipeline: the end-to-end method on the top floor.

The only package allowed to import `harness`, `training`, `tasks` and `leaderboards` together:
it composes their Python APIs (`InductionRequest`/`induce`, `score_model`, `build_matrix`,
`build_leaderboard`) into the demo pipeline, so a renamed function breaks at import/test time,
not at run time through an argv string.

    from valueshift.pipeline import Demo, DemoConfig
    Demo(DemoConfig(out="runs/demo", seeds=[0])).run()   # or: valueshift demo --out runs/demo

Floors (imports point down only): `harness` (contracts, I/O, scoring, statistics) at the bottom;
`training`, `tasks` and `leaderboards` on it; this package on top.
"""

from valueshift.pipeline.config import STAGES, DemoConfig, DemoError
from valueshift.pipeline.runner import Demo, StageResult

__all__ = ["STAGES", "Demo", "DemoConfig", "DemoError", "StageResult"]
