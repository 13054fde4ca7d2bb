"""Losses: a loss maps (FusionOutput, Batch) to a LossOutput whose terms are logged one by one.

:mod:`.pixel` holds the reference-based losses (``l1``, ``mse``); :mod:`.full_resolution` the
unsupervised losses of Z-PNN and λ-PNN, which need no reference and train at the data's own scale.
"""
