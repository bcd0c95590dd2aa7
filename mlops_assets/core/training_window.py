"""Which rows a retraining learns from and is judged on, once something changed at an onset.

Without an onset (a scheduled or manual retraining) the training set is the newest window
and the held-out part is its newest days (`training.time_split`). When an episode (drift or a
performance drop, `core.retraining`) asks for the retraining, its onset is known:

* enough labelled days after the onset (`min_post_onset_days`): learn only from them, and
  hold out their newest days — the old concept no longer teaches anything;
* some, but too few: learn from the newest window, but judge on the post-onset days only, so
  the gate compares challenger and champion on the world as it is now (and the evidence
  minimum of the gate says whether those days are enough);
* none yet: the newest window, split as usual.

The choice and its reason are written next to the training set (a small JSON file), so the
candidates, the gate and the model's tags all use the same split.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

RECENT, POST_ONSET, TESTED_AFTER_ONSET = "recent", "post_onset", "recent_tested_after_onset"


@dataclass(frozen=True)
class WindowChoice:
    choice: str  # RECENT | POST_ONSET | TESTED_AFTER_ONSET
    reason: str
    onset: str | None = None  # YYYY-MM-DD (scored day)
    test_from: str | None = None  # ISO timestamp: held-out rows are at/after it
    post_onset_days: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WindowChoice:
        return cls(**json.loads(text))

    def tags(self) -> dict[str, str]:
        return {
            "training_window_choice": self.choice,
            "training_window_reason": self.reason,
            "onset_day": self.onset or "",
        }


def _post_onset(times: pd.Series, onset: dt.date) -> pd.Series:
    """Rows whose label point-in-time is after the onset day started (the label of scored day
    D is stamped at the end of D)."""
    import pandas as pd

    return pd.to_datetime(times, utc=True) > pd.Timestamp(onset, tz="UTC")


def choose(
    frame: pd.DataFrame, onset: dt.date | None, min_post_onset_days: int, time_column: str
) -> tuple[pd.DataFrame, WindowChoice]:
    """(rows to keep, the choice) for a training set with its label timestamps."""
    import pandas as pd

    if onset is None:
        return frame, WindowChoice(RECENT, "no onset: the newest labelled window")
    times = pd.to_datetime(frame[time_column], utc=True)
    after = _post_onset(times, onset)
    days = int(times[after].dt.floor("D").nunique())
    if days >= min_post_onset_days:
        reason = (
            f"{days} labelled days after the onset {onset} (≥ {min_post_onset_days}): "
            "learn from them only"
        )
        return frame[after.to_numpy()], WindowChoice(POST_ONSET, reason, str(onset), None, days)
    if days == 0:
        reason = f"no labelled day after the onset {onset} yet: the newest window"
        return frame, WindowChoice(RECENT, reason, str(onset), None, 0)
    test_from = times[after].dt.floor("D").min().isoformat()
    reason = (
        f"{days} labelled days after the onset {onset} (< {min_post_onset_days} to learn "
        "from): learn from the newest window, judge on the post-onset days only"
    )
    return frame, WindowChoice(TESTED_AFTER_ONSET, reason, str(onset), test_from, days)


def split(
    frame: pd.DataFrame, choice: WindowChoice | None, test_fraction: float, time_column: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) as the choice says; the usual time split otherwise."""
    import numpy as np
    import pandas as pd

    from mlops_assets.core import training

    if choice is None or choice.test_from is None:
        return training.time_split(frame, test_fraction=test_fraction, time_column=time_column)
    times = pd.to_datetime(frame[time_column], utc=True)
    is_test = (times >= pd.Timestamp(choice.test_from)).to_numpy()
    train, test = frame.loc[~is_test].copy(), frame.loc[is_test].copy()
    for name, part in (("train", train), ("test", test)):
        if part.empty or len(np.unique(part[training.LABEL_COLUMN])) < 2:
            raise ValueError(
                f"split at the onset ({choice.test_from}) leaves the {name} side with "
                f"{len(part)} rows and not both labels"
            )
    return train, test


def save(choice: WindowChoice, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(choice.to_json())


def load(path: Path) -> WindowChoice | None:
    return WindowChoice.from_json(path.read_text()) if path.is_file() else None
