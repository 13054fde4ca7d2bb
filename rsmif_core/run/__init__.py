"""Run assembly: from a config to the built parts of a run, its folder, training and testing.

Sits between the commands and the two siblings it drives, :mod:`rsmif_core.training` and
:mod:`rsmif_core.evaluation` (which never import each other)."""
