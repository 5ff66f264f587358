"""valueshift.pipeline: the end-to-end method on the top floor.

The only package allowed to import `harness`, `training`, `tasks` and `leaderboards` together:
it composes their Python APIs (`InductionRequest`/`induce`, `score_model`, `build_matrix`,
`build_leaderboard`) into the demo pipeline, so a renamed function breaks at import/test time,
not at run time through an argv string.
"""
