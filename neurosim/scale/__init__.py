"""Scaling out training: data-parallel training on ``torch.distributed``
(:mod:`~neurosim.scale.data_parallel`, :mod:`~neurosim.scale.launch`), hyperparameter
sweeps on Ray Tune (:mod:`~neurosim.scale.sweep`) and multi-seed comparisons
(:mod:`~neurosim.scale.compare`).

Ray Tune and Optuna are an optional extra (``pip install neurosim[sweep]``); the
modules that need them import them on use (:mod:`~neurosim.scale.ray_backend`).
"""
