"""The review page of a batch (`mnist-toolkit report`) and the corrected copy of its predictions
(`report --apply`). See docs/review.md."""

from toolkit.report.corrections import ApplyResult, apply
from toolkit.report.review import PAGE_SIZE, ReportResult, build

__all__ = ["PAGE_SIZE", "ApplyResult", "ReportResult", "apply", "build"]
