"""Old name of `valueshift.harness.yaml_config` (the YAML config loader), kept for one session so
modules still importing it keep working; import from `yaml_config` instead."""

from valueshift.harness.yaml_config import *  # noqa: F403
from valueshift.harness.yaml_config import __all__  # noqa: F401
