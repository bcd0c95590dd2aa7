"""The promotion gate rule: may a challenger model become the champion?

A challenger passes iff its AUC-PR is at least the absolute ``floor`` AND, when a champion
exists, it is no worse than the champion by more than ``tolerance`` AND, when the model
declares a baseline rule, it beats that rule on the same held-out window:

    passed = challenger >= floor and (champion is None or challenger >= champion - tolerance)
             and (baseline is None or challenger > baseline)

Before any of that the held-out window must hold enough evidence (`Evidence` vs
`EvidencePolicy`: rows, positives, days): with less, the verdict is "insufficient evidence"
and nothing is promoted — the first model too, unless it is explicitly bootstrapped. A
challenger that misses the floor but beats the champion on the same window is "pending
approval" (a person may promote it); with `require_approval` every passing challenger waits
for one. `passed` is true for the verdict "passed" only.

Both bounds are inclusive. A slack of `_SLACK` (1e-12) absorbs float rounding in
``champion - tolerance`` (``0.80 - 0.01`` is not exactly ``0.79`` in binary), so a
challenger sitting exactly on a boundary passes as the rule says. The Dagster layer runs
this inside a blocking asset check; this module only decides and explains.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_FLOOR = 0.72
DEFAULT_TOLERANCE = 0.01
GATE_METRIC = "auc_pr"
_SLACK = 1e-12

PASSED, FAILED = "passed", "failed"
INSUFFICIENT_EVIDENCE, PENDING_APPROVAL = "insufficient_evidence", "pending_approval"
VERDICTS = (PASSED, FAILED, INSUFFICIENT_EVIDENCE, PENDING_APPROVAL)


@dataclass(frozen=True)
class Evidence:
    """What the held-out window holds: rows, positive labels, distinct days."""

    rows: int
    positives: int
    days: int

    def describe(self) -> str:
        return f"{self.rows:,} rows, {self.positives:,} positives, {self.days} days"


@dataclass(frozen=True)
class EvidencePolicy:
    """The least a held-out window must hold before the gate may decide."""

    min_rows: int = 0
    min_positives: int = 0
    min_days: int = 0

    def shortfall(self, evidence: Evidence) -> list[str]:
        """What is missing, in words (empty: enough)."""
        short = []
        for name, have, need in (
            ("rows", evidence.rows, self.min_rows),
            ("positives", evidence.positives, self.min_positives),
            ("days", evidence.days, self.min_days),
        ):
            if have < need:
                short.append(f"{have:,} {name} < {need:,}")
        return short


@dataclass(frozen=True)
class GateDecision:
    """The outcome of `decide`, with human-readable reasons for either outcome."""

    passed: bool
    reasons: list[str] = field(default_factory=list)
    verdict: str = ""  # one of VERDICTS ("" = derived from `passed`)
    challenger_auc_pr: float = float("nan")
    champion_auc_pr: float | None = None
    floor: float = DEFAULT_FLOOR
    tolerance: float = DEFAULT_TOLERANCE
    baseline: float | None = None
    evidence: Evidence | None = None
    bootstrap: bool = False

    def __post_init__(self) -> None:
        if not self.verdict:
            object.__setattr__(self, "verdict", PASSED if self.passed else FAILED)
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; verdicts: {VERDICTS}")
        if self.passed != (self.verdict == PASSED):
            raise ValueError(f"passed={self.passed} contradicts the verdict {self.verdict!r}")

    @property
    def min_required(self) -> float:
        """The lowest AUC-PR that would have passed (the binding bound)."""
        if self.champion_auc_pr is None:
            return self.floor
        return max(self.floor, self.champion_auc_pr - self.tolerance)

    def to_markdown(self) -> str:
        """One model-card line: verdict, numbers, then the reasons."""
        verdict = self.verdict.replace("_", " ").upper()
        champion = (
            "no champion"
            if self.champion_auc_pr is None
            else f"champion {self.champion_auc_pr:.4f}"
        )
        baseline = "" if self.baseline is None else f", baseline {self.baseline:.4f}"
        return (
            f"**Promotion gate: {verdict}** — challenger AUC-PR {self.challenger_auc_pr:.4f} "
            f"(floor {self.floor:.4f}, {champion}, tolerance {self.tolerance:.4f}{baseline}): "
            + "; ".join(self.reasons)
        )

    def as_metadata(self) -> dict[str, Any]:
        """Plain JSON-able dict (for asset-check metadata and MLflow tags)."""
        out = asdict(self)
        out["min_required"] = self.min_required
        return out


def _check_score(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a finite number in [0, 1], got {value!r}")
    return value


def decide(
    challenger_auc_pr: float,
    champion_auc_pr: float | None,
    *,
    floor: float = DEFAULT_FLOOR,
    tolerance: float = DEFAULT_TOLERANCE,
    metric_label: str = "AUC-PR",
    baseline: float | None = None,
    baseline_label: str = "baseline",
    evidence: Evidence | None = None,
    min_evidence: EvidencePolicy | None = None,
    bootstrap: bool = False,
    require_approval: bool = False,
    approve_below_floor: bool = False,
) -> GateDecision:
    """Apply the gate rule (module docstring) and say why it passed or failed.

    ``champion_auc_pr=None`` means there is no champion yet (the first model ever): only the
    floor applies. Invalid inputs (NaN, outside [0, 1], negative tolerance) raise ValueError:
    a broken evaluation must not be mistaken for a bad model, nor for a good one.
    ``metric_label`` names the gated metric in the reasons (any higher-is-better score in
    [0, 1]; the `*_auc_pr` field names are kept for the default metric's readers).
    ``baseline`` is the same metric of the model's baseline rule on the same held-out window
    (None: no baseline declared); the challenger must beat it strictly.

    ``evidence`` / ``min_evidence``: the held-out window's size and the least it must hold;
    short → "insufficient evidence" (waived only for a first model with ``bootstrap``).
    ``approve_below_floor``: a challenger below the floor that passes every other rule and
    strictly beats the champion is "pending approval" instead of "failed".
    ``require_approval``: a passing challenger is "pending approval" too.
    """
    challenger = _check_score("challenger_auc_pr", challenger_auc_pr)
    champion = None if champion_auc_pr is None else _check_score("champion_auc_pr", champion_auc_pr)
    floor = _check_score("floor", floor)
    baseline = None if baseline is None else _check_score("baseline", baseline)
    tolerance = float(tolerance)
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")

    reasons: list[str] = []
    above_floor = challenger >= floor - _SLACK
    if above_floor:
        reasons.append(f"{metric_label} {challenger:.4f} meets the floor {floor:.4f}")
    else:
        reasons.append(
            f"{metric_label} {challenger:.4f} is below the floor {floor:.4f} "
            f"(short by {floor - challenger:.4f})"
        )

    if champion is None:
        holds_vs_champion = True
        reasons.append("no current champion: first model, only the floor applies")
    else:
        lowest = champion - tolerance
        holds_vs_champion = challenger >= lowest - _SLACK
        delta = challenger - champion
        if delta >= 0:
            reasons.append(
                f"{metric_label} {challenger:.4f} matches or beats the champion {champion:.4f}"
            )
        elif holds_vs_champion:
            reasons.append(
                f"{metric_label} {challenger:.4f} is {-delta:.4f} below the champion "
                f"{champion:.4f}, within the tolerance {tolerance:.4f} "
                f"(lowest allowed {lowest:.4f})"
            )
        else:
            reasons.append(
                f"{metric_label} {challenger:.4f} is {-delta:.4f} below the champion "
                f"{champion:.4f}, beyond the tolerance {tolerance:.4f} "
                f"(lowest allowed {lowest:.4f})"
            )

    beats_baseline = True
    if baseline is not None:
        beats_baseline = challenger > baseline + _SLACK
        verb = "beats" if beats_baseline else "does not beat"
        reasons.append(
            f"{metric_label} {challenger:.4f} {verb} the {baseline_label} rule {baseline:.4f} "
            f"(lift {challenger - baseline:+.4f})"
        )

    verdict = PASSED if above_floor and holds_vs_champion and beats_baseline else FAILED
    if verdict == PASSED and require_approval:
        verdict = PENDING_APPROVAL
        reasons.append("every promotion needs a person's approval (require_approval)")
    elif (
        verdict == FAILED
        and approve_below_floor
        and not above_floor
        and champion is not None
        and challenger > champion + _SLACK
        and beats_baseline
    ):
        verdict = PENDING_APPROVAL
        reasons.append(
            f"it beats the champion by {challenger - champion:+.4f} on the same window but "
            "misses the floor: a person may approve it (approve_model)"
        )
    if bootstrap and champion is not None:
        raise ValueError("bootstrap applies to the first model only (there is a champion)")
    if evidence is not None and min_evidence is not None:
        short = min_evidence.shortfall(evidence)
        if short and bootstrap:
            reasons.append(
                f"bootstrapped first model: the evidence minimum is waived "
                f"(held-out window: {evidence.describe()}; short: {', '.join(short)})"
            )
        elif short:
            verdict = INSUFFICIENT_EVIDENCE
            reasons.insert(
                0,
                f"insufficient evidence: the held-out window has {evidence.describe()}; "
                f"the gate needs at least {min_evidence.min_rows:,} rows, "
                f"{min_evidence.min_positives:,} positives and {min_evidence.min_days} days "
                f"({', '.join(short)}): nothing is promoted",
            )
    return GateDecision(
        passed=verdict == PASSED,
        verdict=verdict,
        evidence=evidence,
        bootstrap=bootstrap,
        reasons=reasons,
        challenger_auc_pr=challenger,
        champion_auc_pr=champion,
        floor=floor,
        tolerance=tolerance,
        baseline=baseline,
    )
