"""welfare_eval: evaluation analytics for Thailand's Community Welfare pilot (โครงการชุมชนสวัสดิการ).

Stages (one sub-package each, data flowing one way):
``simulate`` → ``clean`` → ``match`` → ``survey`` → ``did`` → ``factors`` → ``report``,
with bilingual code lists in ``reference`` and the wiring in ``pipeline``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("welfare_eval")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
