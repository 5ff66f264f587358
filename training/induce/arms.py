"""The arms of an induction experiment (no heavy imports: the CLI parsers use these names)."""

from __future__ import annotations

# value: DPO on the value subset; random_control: DPO on a random sample of the same size from the
# same source pairs; system_prompt_only: no training, the base model with the value's system prompt.
ARMS = ("value", "random_control", "system_prompt_only")
TRAINED_ARMS = ("value", "random_control")
