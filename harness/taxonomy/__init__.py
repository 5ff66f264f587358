"""The closed value list: names, descriptions, valence, category, synonyms and induction prompts.

The default is the paper's 16 values (`values.yaml` beside this file). Users can supply their own
taxonomy file with the same schema (`load_taxonomy(path)`, `--taxonomy PATH` on the CLI).
"""

from valueshift.harness.taxonomy.taxonomy import (
    DEFAULT_TAXONOMY_PATH,
    Taxonomy,
    TaxonomyError,
    Value,
    load_taxonomy,
)

__all__ = ["DEFAULT_TAXONOMY_PATH", "Taxonomy", "TaxonomyError", "Value", "load_taxonomy"]
