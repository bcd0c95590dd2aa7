"""Write the toy dataset into a landing zone: one `toy_readings.csv` per day.

    python examples/add_a_model/generate_toy.py [--days 45] [--devices 300] [--seed 7]

Each device has a hidden wear level w in [0, 1): its daily temperature is 20 + 10·w °C plus
noise, and it reports errors at a rate that grows with w³. So the temperature and the recent
errors predict the label, "an error within 7 days", and a model beats the recent-errors rule.
Run it where the `toy` dataset is declared (`mlops_assets/defs/datasets/toy/defs.yaml`): the
file columns come from that contract. Deterministic for a seed; a day already written is
rewritten whole.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np

from mlops_assets.datasets import contract
from mlops_assets.datasets.landing_writer import write_day_files
from mlops_assets.settings import Settings


def generate(landing_dir: Path, *, days: int = 45, devices: int = 300, seed: int = 7) -> None:
    source = contract("toy").source("toy_readings")
    start = contract("toy").start_date
    rng = np.random.default_rng(seed)
    wear = rng.random(devices)
    ids = [f"D{i:04d}" for i in range(1, devices + 1)]
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        temperature = 20 + 10 * wear + rng.normal(0, 2, devices)
        errors = rng.poisson(0.01 + 0.15 * wear**3)
        columns = {
            "reading_id": [f"{d}-{day:%Y%m%d}" for d in ids],
            "device_id": ids,
            "reading_date": [day.isoformat()] * devices,
            "temperature": [f"{t:.1f}" for t in temperature],
            "errors": [str(e) for e in errors],
        }
        table = {name: columns[name] for name in source.column_names}  # contract order
        write_day_files(landing_dir, day, {source.file_name: table})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--devices", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    landing = Settings.from_env().landing_dir
    generate(landing, days=args.days, devices=args.devices, seed=args.seed)
    print(f"{args.days} days of toy readings for {args.devices} devices in {landing}")


if __name__ == "__main__":
    main()
