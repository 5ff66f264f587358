"""valueshift.tasks: evaluation task families, each in `tasks/<name>/` with lm-eval and Inspect forms."""
