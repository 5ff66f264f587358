"""valueshift.training: preference-data loading, XOR value subsets and value induction (DPO + system prompt)."""
