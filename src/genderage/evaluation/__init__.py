"""Measuring a model: the evaluate loop, metrics, report renderers, photo-set and ensemble
evaluation.

Depends on the runtime and the data layer only, never on ``genderage.training``.
"""
