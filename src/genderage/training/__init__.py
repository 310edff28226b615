"""Training, export, calibration fitting and release code. The training loop, export and
checkpoints need the ``[train]`` extra (torch); ``config``, ``record``, ``modelcard`` and
``recrop`` do not. May import the evaluation and data layers, never the other way round."""
