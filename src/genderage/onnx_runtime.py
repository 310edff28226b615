"""The one place genderage imports onnxruntime (with its telemetry switched off first) and
opens sessions (threads, providers) for the attribute model and the detectors alike.

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
from dataclasses import dataclass
from pathlib import Path

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


class ModelLoadError(ValueError):
    """onnxruntime cannot load a file as an ONNX model (the message names the file)."""


def create_session(model: str | Path | bytes, threads: int | None = None,
                   providers: list[str] | None = None, name: str | None = None,
                   log_errors_only: bool = False, optimize: bool = True):
    """An onnxruntime inference session for a model file or the model's bytes.

    Args:
        model: ``.onnx`` path, or the serialized model.
        threads: intra-op threads (and one inter-op thread); ``None`` or 0 leaves
            onnxruntime's default (one per core).
        providers: execution providers (default: CPU).
        name: how to call the model in error messages (default: the path).
        log_errors_only: silence onnxruntime's warnings (the exported detectors trigger
            harmless initializer warnings).
        optimize: ``False`` skips graph optimisation, for a session opened only to read the
            model's metadata.

    Raises:
        ModelLoadError: the file is missing or is not a loadable ONNX model.
    """
    ort = load_onnxruntime()
    options = ort.SessionOptions()
    if log_errors_only:
        options.log_severity_level = 3
    # Idle pool threads must not spin: the detector and the attribute model run one after the
    # other on the same cores, and spinning made the detector 4x slower
    # (docs/experiments/2026-11-29-latency.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    label = name or (str(model) if not isinstance(model, bytes) else "<model bytes>")
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, options,
                                    providers=providers or ["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated exception types
        raise ModelLoadError(f"{label}: cannot load as an ONNX model ({exc})") from None


@dataclass(frozen=True)
class RuntimeOptions:
    """How onnxruntime runs the sessions of one analyzer: the attribute model's and every
    detector network's alike, so that a thread budget means one thing everywhere.

    Attributes:
        threads: the most intra-op threads any one session may use; each session keeps its
            own tuned count below that (MTCNN's small P-Net levels run on one thread).
            ``None``: no budget, every session its own default (onnxruntime's one thread
            per core for the attribute model, 1, 2 and 2 for MTCNN's nets). A batch worker
            process gets ``threads=1``: its parallelism comes from the processes.
        providers: execution providers, in order of preference (``None``: CPU).
    """

    threads: int | None = None
    providers: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.threads is not None and (isinstance(self.threads, bool)
                                         or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ValueError(f"threads must be a whole number >= 1 or None, got {self.threads!r}")
        if self.providers is not None:
            object.__setattr__(self, "providers", tuple(self.providers))

    def threads_for(self, preferred: int | None = None) -> int | None:
        """Intra-op threads of a session that would use ``preferred`` threads without a
        budget (``None`` or 0: onnxruntime's default): at most :attr:`threads`."""
        if self.threads is None:
            return preferred or None
        return min(preferred, self.threads) if preferred else self.threads

    def session(self, model: str | Path | bytes, preferred_threads: int | None = None,
                **kwargs):
        """:func:`create_session` with these threads (see :meth:`threads_for`) and
        providers; ``kwargs`` go to it (``name``, ``log_errors_only``, ``optimize``)."""
        return create_session(model, self.threads_for(preferred_threads),
                              list(self.providers) if self.providers else None, **kwargs)
