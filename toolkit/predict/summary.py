"""What a `predict` run did, counted as its records come (`Summary.add`), shown by `render.summary_lines`
and written as JSON with `--summary`. Workers that write their own records (the Ray dataset output) count
them in a Summary of their own and send its `counts()`; the driver `merge`s them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

COUNTED = ("files", "records", "ok", "errors", "low_confidence", "blank")


@dataclass
class Summary:
    """What a run did. `exit_code`: 0 every input scored, 3 some became error records or there was no image
    to score at all."""

    output: str
    format: str
    model: str
    files: int = 0
    records: int = 0
    ok: int = 0
    errors: int = 0
    error_kinds: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    digits: Counter = field(default_factory=Counter)
    low_confidence: int = 0
    blank: int = 0
    seconds: float = 0.0
    resumed_records: int = 0
    resumed_errors: int = 0
    changed: int = 0  # inputs resumed that had changed since their records: scored again, old records replaced
    retried: int = 0  # inputs resumed whose records were errors of access (unreadable): scored again, replaced
    gone: int = 0  # inputs of earlier records this run did not find: records kept, flagged input-gone
    written: bool = True
    warnings: list[str] = field(default_factory=list)
    flagged: Counter = field(default_factory=Counter)  # records by flag (toolkit.imaging.segment.FLAGS)

    @property
    def rate(self) -> float:
        return self.files / self.seconds if self.seconds > 0 else 0.0

    @property
    def empty(self) -> bool:
        """Nothing was scored, now or in the run this one resumed: the inputs held no image files."""
        return self.records == 0 and self.resumed_records == 0

    @property
    def exit_code(self) -> int:
        return 3 if self.errors or self.resumed_errors or self.empty else 0

    def add(self, records: Iterable[Mapping[str, Any]]) -> None:
        for r in records:
            self.records += 1
            if r.get("frame", 0) == 0:
                self.files += 1
            if r["status"] == "ok":
                self.ok += 1
                if r["blank"]:
                    self.blank += 1  # also flagged low_confidence in the record, but counted apart here
                else:
                    if "per_digit" in r:  # --multi-digit: every digit read counts
                        self.digits.update(d["digit"] for d in r["per_digit"])
                    else:
                        self.digits[r["digit"]] += 1
                    if r["low_confidence"]:
                        self.low_confidence += 1
                if r.get("flags"):
                    self.flagged.update(r["flags"].split())
            else:
                self.errors += 1
                self.error_kinds[r["error_kind"]] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "format": self.format,
            "model": self.model,
            "files": self.files,
            "records": self.records,
            "ok": self.ok,
            "errors": self.errors,
            "error_kinds": dict(sorted(self.error_kinds.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "digits": {str(d): self.digits.get(d, 0) for d in range(10)},
            "low_confidence": self.low_confidence,
            "blank": self.blank,
            "seconds": round(self.seconds, 3),
            "files_per_second": round(self.rate, 1),
            "resumed_records": self.resumed_records,
            "resumed_errors": self.resumed_errors,
            "changed": self.changed,
            "retried": self.retried,
            "gone": self.gone,
            "output_written": self.written,
            "exit_code": self.exit_code,
            "warnings": self.warnings,
            "flagged": dict(sorted(self.flagged.items())),
        }

    def counts(self) -> dict[str, Any]:
        """What `merge` adds up in another Summary: the counts of the records added, as plain JSON."""
        return {
            **{name: getattr(self, name) for name in COUNTED},
            "error_kinds": dict(self.error_kinds),
            "digits": {str(k): v for k, v in self.digits.items()},
            "flagged": dict(self.flagged),
        }

    def merge(self, counts: Mapping[str, Any]) -> None:
        """Add another Summary's `counts()` to this one."""
        for name in COUNTED:
            setattr(self, name, getattr(self, name) + int(counts.get(name, 0)))
        self.error_kinds.update(Counter(counts.get("error_kinds", {})))
        self.digits.update(Counter({int(k): v for k, v in counts.get("digits", {}).items()}))
        self.flagged.update(Counter(counts.get("flagged", {})))
