"""Population-level reports from ``genderage batch`` results: the female share corrected for
the model's measured errors, the age distribution and the mean age, with 95% intervals.

``stats`` holds the statistics (pure functions), ``estimate`` applies them to a set of faces,
``table`` reads the Parquet results, ``rates`` finds the model's error rates, ``render``
writes the files. Needs the ``[report]`` extra (pyarrow, matplotlib).
"""

from .build import build_report
from .render import REPORT_FILES, write_report

__all__ = ["REPORT_FILES", "build_report", "write_report"]
