"""The one place genderage imports onnxruntime: with its telemetry switched off first.

onnxruntime's Python wheel starts a telemetry system when its native library loads: it writes
an event database and a device id under ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/``
and later looks up a telemetry host. ``ort.disable_telemetry_events()`` comes too late (the
files exist as soon as ``import onnxruntime`` returns); the library reads the environment
variable ``ORT_DISABLE_TELEMETRY`` while loading, so it has to be set before the first import.
That is an environment change, so it happens here, when a model is about to be loaded, and
not at ``import genderage``.
"""

from __future__ import annotations

import os
import sys

TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"


def load_onnxruntime():
    """``import onnxruntime`` with telemetry off; returns the module.

    If the caller's own code imported onnxruntime earlier, the variable comes too late for
    the files; the telemetry events are then switched off through the API instead.
    """
    already_loaded = "onnxruntime" in sys.modules
    os.environ[TELEMETRY_ENV] = "1"
    import onnxruntime

    if already_loaded:
        onnxruntime.disable_telemetry_events()
    return onnxruntime
