"""Write one day's files into the landing zone so that no reader ever sees half of one.

Shared by the dataset adapters (the churn simulator, the CDNOW replay). The landing zone is
`landing_dir/<YYYY-MM-DD>/<source>.csv`, and several datasets may land files into the same day
folder, so a writer must never disturb another source's file:

- a day folder that does not exist yet is assembled under a hidden `.tmp-<day>` name and renamed
  into place: the day appears with all of its files at once (`core.ingest.landed_days` only
  lists day-named folders, so the temp folder is never seen);
- in a day folder that already exists, each file is written under a hidden `.tmp-<name>` next
  to its final name and renamed onto it: a reader sees the old file or the new one, never a
  partial one, and the other files of that folder are not touched.

A crashed writer leaves only hidden temp entries, which the next write of that day removes.
"""

from __future__ import annotations

import csv
import errno
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path

Table = Mapping[str, Sequence[object]]
"""One CSV file: column name -> values (all of equal length), in file column order."""

_TMP = ".tmp-"


def day_folder(landing_dir: Path, day: date) -> Path:
    return Path(landing_dir) / day.isoformat()


def day_has_files(landing_dir: Path, day: date, names: Iterable[str]) -> bool:
    """Whether every file in `names` is already in the day's folder (a writer skips such a day
    unless it overwrites; another dataset's files in the folder do not count)."""
    folder = day_folder(landing_dir, day)
    return all((folder / name).is_file() for name in names)


def write_csv(path: Path, table: Table) -> None:
    """`table` as UTF-8 CSV with a header row and `\\n` line ends (header only if empty)."""
    columns = list(table)
    lengths = {len(values) for values in table.values()}
    if len(lengths) > 1:
        raise ValueError(f"{path.name}: columns of different lengths {sorted(lengths)}")
    with open(path, "x", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(zip(*table.values(), strict=True))


def write_day_files(
    landing_dir: Path,
    day: date,
    files: Mapping[str, Table],
    *,
    stale: Iterable[str] = (),
) -> None:
    """Write `files` (file name -> table) into the day's folder atomically (see the module doc).

    `stale`: file names this writer owns; any of them present but not in `files` is removed
    after the writes, so a rewritten day never keeps an old file of the same writer (the
    simulator's labels file, say, when the rewritten world has no labels that day)."""
    landing_dir = Path(landing_dir)
    for name in files:
        if name != Path(name).name or name.startswith(".") or not name:
            raise ValueError(f"invalid landing file name {name!r}")
    landing_dir.mkdir(parents=True, exist_ok=True)
    final = day_folder(landing_dir, day)
    if not final.exists() and _create_day(landing_dir, final, files):
        return
    for name, table in files.items():
        tmp = final / f"{_TMP}{name}"
        tmp.unlink(missing_ok=True)  # left over by a crashed run
        try:
            write_csv(tmp, table)
            os.replace(tmp, final / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    for name in set(stale) - set(files):
        (final / name).unlink(missing_ok=True)


def _create_day(landing_dir: Path, final: Path, files: Mapping[str, Table]) -> bool:
    """Assemble a new day folder under a hidden name and rename it into place. False (nothing
    left behind) if another writer created the folder meanwhile: then write file by file."""
    tmp = landing_dir / f"{_TMP}{final.name}"
    if tmp.exists():  # left over by a crashed run
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        for name, table in files.items():
            write_csv(tmp / name, table)
        # os.rename onto an existing non-empty folder fails; onto an empty one it succeeds,
        # which is fine: an empty day folder holds nothing to lose.
        os.rename(tmp, final)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        return False
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True


__all__ = ["Table", "day_folder", "day_has_files", "write_csv", "write_day_files"]
