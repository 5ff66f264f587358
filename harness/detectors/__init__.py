"""Learned detectors on the embedded MiniLM encoder, trained and measured on the team corpus.

- corpus.py: load the labelled corpus (items, labels per annotator, primary label, source).
- agreement.py: Cohen's kappa on double-labelled items.
- features.py: sentence-embedding features of a (prompt, response).
- heads.py: versioned logistic-regression heads (API and registry for new heads: see its docstring).
- registry.py: which modules register heads; LOSO evaluation and training of one head.
- values.py: the value-expression head and the 1-of-4 choice protocol.
- cli.py: `valueshift train-detectors`, `valueshift corpus-stats`.
"""
