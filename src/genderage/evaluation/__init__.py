"""Measuring a model: the evaluate loop, metrics, report renderers, photo-set evaluation.

Depends on the runtime, the features and the data layer, never on ``genderage.training``
(tests/test_layers.py). Studies that use these (the ensemble ceiling) live in research/.
"""
