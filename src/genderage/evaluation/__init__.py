"""Measuring a model: the evaluate loop, metrics, report renderers and the model card.

Depends on the runtime and the data layer only, never on ``genderage.training``.
"""
