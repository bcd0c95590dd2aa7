"""The shared landing writer: whole files only, neighbours untouched, own stale files removed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mlops_assets.datasets import landing_writer as lw

DAY = dt.date(2026, 1, 1)


def test_new_day_then_files_added_and_replaced_beside_others(tmp_path: Path) -> None:
    lw.write_day_files(tmp_path, DAY, {"a.csv": {"x": [1, 2]}, "b.csv": {"y": []}})
    folder = tmp_path / "2026-01-01"
    assert (folder / "a.csv").read_text() == "x\n1\n2\n"
    assert (folder / "b.csv").read_text() == "y\n"  # header only
    lw.write_day_files(tmp_path, DAY, {"c.csv": {"z": ["q"]}})  # another writer, same day
    lw.write_day_files(tmp_path, DAY, {"a.csv": {"x": [3]}})
    assert {p.name: p.read_text() for p in folder.iterdir()} == {
        "a.csv": "x\n3\n",
        "b.csv": "y\n",
        "c.csv": "z\nq\n",
    }
    assert lw.day_has_files(tmp_path, DAY, ["a.csv", "c.csv"])
    assert not lw.day_has_files(tmp_path, DAY, ["d.csv"])


def test_stale_files_of_the_writer_are_removed_others_kept(tmp_path: Path) -> None:
    lw.write_day_files(tmp_path, DAY, {"a.csv": {"x": [1]}, "labels.csv": {"l": [0]}})
    lw.write_day_files(tmp_path, DAY, {"other.csv": {"o": [1]}})
    lw.write_day_files(tmp_path, DAY, {"a.csv": {"x": [2]}}, stale=["a.csv", "labels.csv"])
    assert sorted(p.name for p in (tmp_path / "2026-01-01").iterdir()) == ["a.csv", "other.csv"]


def test_a_folder_created_meanwhile_falls_back_to_file_by_file(tmp_path: Path) -> None:
    final = tmp_path / "2026-01-01"
    final.mkdir()
    (final / "theirs.csv").write_text("t\n")
    assert lw._create_day(tmp_path, final, {"mine.csv": {"m": [1]}}) is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-01-01"]  # no temp folder left
    lw.write_day_files(tmp_path, DAY, {"mine.csv": {"m": [1]}})
    assert sorted(p.name for p in final.iterdir()) == ["mine.csv", "theirs.csv"]


@pytest.mark.parametrize("name", ["../x.csv", ".hidden.csv", "a/b.csv", ""])
def test_file_names_stay_inside_the_day_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="invalid landing file name"):
        lw.write_day_files(tmp_path, DAY, {name: {"x": [1]}})


def test_columns_of_different_lengths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="different lengths"):
        lw.write_day_files(tmp_path, DAY, {"a.csv": {"x": [1], "y": []}})
    assert list(tmp_path.iterdir()) == []  # no temp folder left behind
