"""core.training_window: after an onset, learn from post-onset days once there are enough,
otherwise judge on them; the split follows the choice."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from mlops_assets.core import training_window as tw
from mlops_assets.core.training import LABEL_COLUMN, TIME_COLUMN

START = dt.date(2026, 1, 1)


def frame(n_days: int, per_day: int = 20) -> pd.DataFrame:
    # the label of scored day D is stamped at the end of D (D + 1, 00:00 UTC)
    stamps = [
        pd.Timestamp(START + dt.timedelta(days=d + 1), tz="UTC")
        for d in range(n_days)
        for _ in range(per_day)
    ]
    labels = [i % 5 == 0 for i in range(len(stamps))]
    return pd.DataFrame({TIME_COLUMN: stamps, LABEL_COLUMN: [int(x) for x in labels]})


def test_no_onset_keeps_the_newest_window() -> None:
    df = frame(40)
    kept, choice = tw.choose(df, None, 28, TIME_COLUMN)
    assert kept is df and choice.choice == tw.RECENT and choice.test_from is None


def test_no_labelled_day_after_the_onset_keeps_the_usual_split() -> None:
    kept, choice = tw.choose(frame(40), START + dt.timedelta(days=45), 28, TIME_COLUMN)
    assert choice.choice == tw.RECENT and "no labelled day after the onset" in choice.reason
    assert len(kept) == 40 * 20


def test_few_post_onset_days_are_the_test_window() -> None:
    onset = START + dt.timedelta(days=32)
    df = frame(40)
    kept, choice = tw.choose(df, onset, 28, TIME_COLUMN)
    assert choice.choice == tw.TESTED_AFTER_ONSET and choice.post_onset_days == 8
    train, test = tw.split(kept, choice, 0.25, TIME_COLUMN)
    # scored days 32..39 are held out: their labels are stamped 33..40
    assert test[TIME_COLUMN].min() == pd.Timestamp(onset + dt.timedelta(days=1), tz="UTC")
    assert len(test) == 8 * 20 and train[TIME_COLUMN].max() < test[TIME_COLUMN].min()
    assert tw.WindowChoice.from_json(choice.to_json()) == choice
    assert choice.tags()["training_window_choice"] == tw.TESTED_AFTER_ONSET


def test_enough_post_onset_days_are_all_the_training_set() -> None:
    onset = START + dt.timedelta(days=10)
    kept, choice = tw.choose(frame(40), onset, 28, TIME_COLUMN)
    assert choice.choice == tw.POST_ONSET and choice.post_onset_days == 30
    assert kept[TIME_COLUMN].min() == pd.Timestamp(onset + dt.timedelta(days=1), tz="UTC")
    train, test = tw.split(kept, choice, 0.25, TIME_COLUMN)  # the usual split within them
    assert len(train) + len(test) == len(kept)


def test_a_split_without_both_labels_is_refused() -> None:
    df = frame(40)
    df.loc[
        df[TIME_COLUMN] > pd.Timestamp(START + dt.timedelta(days=33), tz="UTC"), LABEL_COLUMN
    ] = 0
    _, choice = tw.choose(df, START + dt.timedelta(days=33), 28, TIME_COLUMN)
    with pytest.raises(ValueError, match="not both labels"):
        tw.split(df, choice, 0.25, TIME_COLUMN)


def test_the_choice_is_saved_next_to_the_training_set(tmp_path: Path) -> None:
    _, choice = tw.choose(frame(40), START + dt.timedelta(days=32), 28, TIME_COLUMN)
    path = tmp_path / "training" / "training_window.json"
    assert tw.load(path) is None
    tw.save(choice, path)
    assert tw.load(path) == choice
