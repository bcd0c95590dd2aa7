"""The churn simulator: determinism, the landing-zone contract, labels, signal and drift.

The model and drift checks train on the reference features (features_reference.py), i.e. on
exactly what the dbt mart will serve, so a pass here means the demo has a learnable problem.
"""

from __future__ import annotations

import ast
import sys
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_assets import cli
from mlops_assets.core.schemas import SourceSpec
from mlops_assets.datasets import simulator
from mlops_assets.datasets.simulator import (
    CHANNELS,
    CHURN_LABELS,
    CUSTOMERS,
    SOURCES,
    SUPPORT_TICKETS,
    TRANSACTIONS,
    DriftSpec,
    LandingDirMismatch,
    SimulationConfig,
    SimulationSummary,
    simulate,
)
from tests.core.features_reference import compute_features, labelled_features, load_landing
from tests.feature_columns import FEATURE_COLUMNS

SMALL = SimulationConfig(customers=800, days=60)
TINY = SimulationConfig(customers=300, days=35)
X = list(FEATURE_COLUMNS)


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def snapshot(landing_dir: Path) -> dict[str, bytes]:
    """Every file of a landing zone (hidden entries included), by relative path."""
    return {
        str(p.relative_to(landing_dir)): p.read_bytes()
        for p in sorted(landing_dir.rglob("*"))
        if p.is_file()
    }


def day_dirs(landing_dir: Path) -> list[Path]:
    return sorted(p for p in landing_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def violations(frame: pd.DataFrame, spec: SourceSpec) -> pd.Series:
    """Rows breaking the contract (frame read with dtype=str, keep_default_na=False).

    A repeated key marks the later occurrences only: the first one is a legitimate row.
    """
    bad = pd.Series(False, index=frame.index)
    for column in spec.columns:
        raw = frame[column.name]
        bad |= raw == ""
        if column.type == "int":
            bad |= ~raw.str.fullmatch(r"-?\d+")
        if column.type == "float":
            bad |= ~raw.str.fullmatch(r"-?\d+(\.\d+)?")
        if column.type == "decimal":  # never more decimal places than the scale
            bad |= ~raw.str.fullmatch(rf"-?\d+(\.\d{{1,{column.scale}}})?")
        if column.type == "date":
            bad |= pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce").isna()
        if column.type == "timestamp":
            bad |= pd.to_datetime(raw, format="%Y-%m-%d %H:%M:%S", errors="coerce").isna()
        if column.allowed is not None:
            bad |= ~raw.isin(column.allowed)
        if column.min is not None or column.max is not None:
            number = pd.to_numeric(raw, errors="coerce")
            bad |= number.isna()
            bad |= number < column.min if column.min is not None else False
            bad |= number > column.max if column.max is not None else False
    return bad | frame.duplicated(subset=list(spec.key), keep="first")


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index on quantile bins of the reference (ties merge bins)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=bins)
    actual = np.bincount(np.searchsorted(edges, current, side="right"), minlength=bins)
    e = np.clip(expected / len(reference), 1e-4, None)
    a = np.clip(actual / len(current), 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def average_precision(train: pd.DataFrame, *tests: pd.DataFrame) -> list[float]:
    """Fit sklearn's default HistGradientBoosting on `train`; AUC-PR on each test frame."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import average_precision_score
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # OpenMP spin-waits badly on a busy 2-core runner
        model = HistGradientBoostingClassifier(random_state=0).fit(train[X], train["churned"])
        return [
            float(average_precision_score(t["churned"], model.predict_proba(t[X])[:, 1]))
            for t in tests
        ]


def day_index(config: SimulationConfig, dates: pd.Series) -> pd.Series:
    return (pd.to_datetime(dates) - pd.Timestamp(config.start_date)).dt.days


@dataclass(frozen=True)
class Run:
    config: SimulationConfig
    landing_dir: Path
    summary: SimulationSummary
    data: dict[str, pd.DataFrame]


def run(config: SimulationConfig, landing_dir: Path) -> Run:
    summary = simulate(config, landing_dir)
    return Run(config, landing_dir, summary, load_landing(landing_dir))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run(SMALL, tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, pd.DataFrame]:
    """The default world (5,000 customers x 90 days) and its labelled features."""
    r = run(SimulationConfig(), tmp_path_factory.mktemp("default"))
    d = r.data
    features = compute_features(d["customers"], d["transactions"], d["support_tickets"])
    return r, labelled_features(features, d["churn_labels"])


# ------------------------------------------------------------------------------------------
# determinism, extension, atomic writes
# ------------------------------------------------------------------------------------------


def test_same_config_is_byte_identical_and_another_seed_differs(tmp_path: Path) -> None:
    simulate(TINY, tmp_path / "a")
    simulate(TINY, tmp_path / "b")
    simulate(SimulationConfig(customers=300, days=35, seed=8), tmp_path / "c")
    a = snapshot(tmp_path / "a")
    assert len(a) == 1 + 35 * 3 + 5  # manifest, 3 files a day, labels from day 30
    assert a == snapshot(tmp_path / "b")
    c = snapshot(tmp_path / "c")
    assert a.keys() == c.keys()
    assert a["2026-01-01/transactions.csv"] != c["2026-01-01/transactions.csv"]


def test_a_drift_changes_only_the_days_from_its_start(tmp_path: Path) -> None:
    drifted = SimulationConfig(customers=300, days=20, drifts=(DriftSpec("covariate", 10),))
    simulate(SimulationConfig(customers=300, days=20), tmp_path / "clean")
    simulate(drifted, tmp_path / "drift")
    clean, drift = snapshot(tmp_path / "clean"), snapshot(tmp_path / "drift")
    assert clean.keys() == drift.keys()
    for name in clean:  # the world is the same; only what customers do looks different
        unchanged = name < "2026-01-11" or not name.endswith(("transactions.csv", "tickets.csv"))
        assert (clean[name] == drift[name]) == unchanged, name


def test_existing_days_are_untouched_and_an_extension_equals_a_fresh_run(tmp_path: Path) -> None:
    short = SimulationConfig(customers=300, days=32)
    long = SimulationConfig(customers=300, days=36)
    simulate(short, tmp_path / "grown")
    marker = tmp_path / "grown" / "2026-01-05" / "transactions.csv"
    marker.write_text("edited by hand\n")

    summary = simulate(long, tmp_path / "grown")
    simulate(long, tmp_path / "fresh")

    assert summary.days_skipped == tuple(long.date_of(d) for d in range(32))
    assert summary.days_written == tuple(long.date_of(d) for d in range(32, 36))
    assert marker.read_text() == "edited by hand\n"
    grown, fresh = snapshot(tmp_path / "grown"), snapshot(tmp_path / "fresh")
    assert grown.keys() == fresh.keys()
    assert [k for k in grown if grown[k] != fresh[k]] == ["2026-01-05/transactions.csv"]

    simulate(long, tmp_path / "grown", overwrite=True)
    assert snapshot(tmp_path / "grown") == fresh


def test_a_landing_dir_of_another_world_is_refused(tmp_path: Path) -> None:
    simulate(SimulationConfig(customers=100, days=2), tmp_path)
    with pytest.raises(LandingDirMismatch, match="another landing dir"):
        simulate(SimulationConfig(customers=100, days=3, seed=8), tmp_path)
    simulate(SimulationConfig(customers=100, days=3, seed=8), tmp_path, overwrite=True)


def test_day_folders_appear_whole_and_no_temp_folder_is_left(tmp_path: Path) -> None:
    stale = tmp_path / ".tmp-2026-01-03"  # as if a previous run crashed mid-day
    stale.mkdir(parents=True)
    (stale / "transactions.csv").write_text("half a file")
    seen_partial: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for day in day_dirs(tmp_path):
                try:
                    files = {p.name for p in day.iterdir()}
                except FileNotFoundError:  # overwrite swaps the folder: briefly absent, fine
                    continue
                if not {"customers.csv", "transactions.csv", "support_tickets.csv"} <= files:
                    seen_partial.append(day.name)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        simulate(SimulationConfig(customers=300, days=40), tmp_path)
        simulate(SimulationConfig(customers=300, days=40), tmp_path, overwrite=True)
    finally:
        done.set()
        watcher.join()
    assert seen_partial == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [
        simulator.MANIFEST_NAME
    ]
    assert {p.name for p in (tmp_path / "2026-01-03").iterdir()} == {
        "customers.csv",
        "transactions.csv",
        "support_tickets.csv",
    }


# ------------------------------------------------------------------------------------------
# the landing-zone contract
# ------------------------------------------------------------------------------------------


def test_every_file_matches_the_contract(small: Run) -> None:
    for day in day_dirs(small.landing_dir):
        for spec in SOURCES:
            path = day / spec.file_name
            if spec is CHURN_LABELS and not path.exists():
                continue
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            assert tuple(frame.columns) == spec.column_names, path
            assert not violations(frame, spec).any(), path
            if spec.event_time and spec is not CUSTOMERS and spec is not CHURN_LABELS:
                assert (frame[spec.event_time].str[:10] == day.name).all(), path
    d = small.data
    for spec in SOURCES:  # keys are unique across days too
        assert not d[spec.name].duplicated(subset=list(spec.key)).any(), spec.name
    assert d["transactions"]["amount"].str.fullmatch(r"\d+\.\d\d").all()
    assert d["customers"]["monthly_fee"].str.fullmatch(r"\d+\.\d\d").all()


def test_customers_first_day_holds_the_base_and_later_days_the_signups(small: Run) -> None:
    customers = small.data["customers"]
    first = pd.read_csv(small.landing_dir / "2026-01-01" / "customers.csv", dtype=str)
    signup = pd.to_datetime(first["signup_date"])
    assert len(first) >= SMALL.customers
    assert signup.min() >= pd.Timestamp("2023-01-01")
    assert (signup < pd.Timestamp(SMALL.start_date)).sum() == SMALL.customers
    later = customers[customers["signup_date"] > "2026-01-01"]
    per_day = len(later) / (SMALL.days - 1) / SMALL.customers
    assert 0.002 <= per_day <= 0.005
    for day in day_dirs(small.landing_dir)[1:]:
        frame = pd.read_csv(day / "customers.csv", dtype=str)
        assert (frame["signup_date"] == day.name).all()


def test_activity_comes_only_from_signed_up_customers(small: Run) -> None:
    d = small.data
    signup = d["customers"].set_index("customer_id")["signup_date"]
    for spec in (TRANSACTIONS, SUPPORT_TICKETS):
        frame = d[spec.name]
        assert frame["customer_id"].isin(signup.index).all()
        day = frame[spec.event_time].str[:10]
        assert (signup.loc[frame["customer_id"]].to_numpy() <= day.to_numpy()).all()


def test_a_day_without_tickets_gets_a_header_only_file(tmp_path: Path) -> None:
    simulate(SimulationConfig(customers=5, days=5), tmp_path)
    sizes = [len((d / "support_tickets.csv").read_text().splitlines()) for d in day_dirs(tmp_path)]
    assert min(sizes) == 1
    assert (tmp_path / "2026-01-01" / "support_tickets.csv").read_text().startswith("ticket_id,")


def test_corrupted_rows_are_exactly_the_contract_violations(tmp_path: Path) -> None:
    clean_config = SimulationConfig(customers=300, days=35)
    corrupt_config = SimulationConfig(customers=300, days=35, corrupt_rate=0.03)
    clean = run(clean_config, tmp_path / "clean")
    dirty = run(corrupt_config, tmp_path / "dirty")

    assert clean.summary.total_corrupted == 0
    assert dirty.summary.corrupted_rows[CUSTOMERS.name] == 0
    assert dirty.summary.corrupted_rows[CHURN_LABELS.name] == 0
    for spec in (CUSTOMERS, CHURN_LABELS):
        assert dirty.data[spec.name].equals(clean.data[spec.name])
    for spec in (TRANSACTIONS, SUPPORT_TICKETS):
        frame, reference = dirty.data[spec.name], clean.data[spec.name]
        bad = violations(frame, spec)
        n_bad = dirty.summary.corrupted_rows[spec.name]
        assert n_bad > 0
        assert bad.sum() == n_bad, spec.name
        assert dirty.summary.rows[spec.name] == len(frame)
        # Every valid row is a clean row, unchanged; nothing else is lost or altered.
        valid = frame[~bad]
        merged = valid.merge(reference, how="left", indicator=True)
        assert (merged["_merge"] == "both").all()
        duplicates = len(frame) - len(reference)
        assert len(valid) == len(reference) - (n_bad - duplicates)

    tx = dirty.data["transactions"]
    assert (pd.to_numeric(tx["amount"], errors="coerce").isna() & (tx["amount"] != "")).any()
    assert (~tx["channel"].isin(CHANNELS)).any()
    assert (tx["customer_id"] == "").any()
    assert tx.duplicated().any()
    ts = pd.to_datetime(tx["transaction_ts"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    assert ts.isna().any()


# ------------------------------------------------------------------------------------------
# labels
# ------------------------------------------------------------------------------------------


def test_labels_land_after_the_delay_for_the_customers_active_then(small: Run) -> None:
    delay = SMALL.label_delay_days
    for i, day in enumerate(day_dirs(small.landing_dir)):
        path = day / CHURN_LABELS.file_name
        assert path.exists() == (i >= delay), day.name
        if path.exists():
            labels = pd.read_csv(path, dtype=str)
            expected = (date.fromisoformat(day.name) - timedelta(days=delay)).isoformat()
            assert (labels["observation_date"] == expected).all()

    d = small.data
    labels = d["churn_labels"].assign(
        o=lambda f: day_index(SMALL, f["observation_date"]),
        churned=lambda f: f["churned"].astype(int),
    )
    signup = d["customers"].set_index("customer_id")["signup_date"]
    assert (signup.loc[labels["customer_id"]].to_numpy() <= labels["observation_date"]).all()

    last_o = labels["o"].max()
    activity = pd.concat(
        [
            d["transactions"].rename(columns={"transaction_ts": "ts"})[["customer_id", "ts"]],
            d["support_tickets"].rename(columns={"created_ts": "ts"})[["customer_id", "ts"]],
        ]
    )
    last_active_day = (
        day_index(SMALL, activity["ts"].str[:10]).groupby(activity["customer_id"]).max()
    )
    churners = 0
    for customer, rows in labels.sort_values("o").groupby("customer_id"):
        o, churned = rows["o"].to_numpy(), rows["churned"].to_numpy()
        assert (np.diff(o) == 1).all(), customer  # active on consecutive dates until churn
        assert (np.diff(churned) >= 0).all(), customer  # once churning, churned at every later O
        if o[-1] < last_o:  # dropped out of the labels: churned at the end of day o[-1] + 1
            assert churned[-1] == 1, customer
        if churned.any() and churned[0] == 0:
            churn_day = o[churned.argmax()] + delay  # the first O whose window holds the churn
            if o[-1] < last_o:
                assert churn_day == o[-1] + 1, customer
            assert last_active_day.get(customer, -1) <= churn_day, customer  # silent afterwards
            churners += 1
    assert churners > 50


def test_positive_rate_is_realistic_and_the_base_stable(default: tuple[Run, pd.DataFrame]) -> None:
    r, _ = default
    assert 0.08 <= r.summary.churn_positive_rate <= 0.20
    assert 0.9 * r.config.customers <= r.summary.active_customers <= 1.1 * r.config.customers
    per_customer_day = r.summary.rows["transactions"] / r.config.days / r.config.customers
    assert 0.3 <= per_customer_day <= 0.6
    tickets = r.summary.rows["support_tickets"] / r.config.days / r.config.customers
    assert 0.01 <= tickets <= 0.03


# ------------------------------------------------------------------------------------------
# signal and drift
# ------------------------------------------------------------------------------------------


def test_a_time_split_model_reaches_the_target_auc_pr(default: tuple[Run, pd.DataFrame]) -> None:
    _, labelled = default
    assert labelled[X].notna().all().all()  # every label row found its features
    dates = sorted(labelled["observation_date"].unique())
    cut = dates[len(dates) * 2 // 3]
    train = labelled[labelled["observation_date"] < cut]
    test = labelled[labelled["observation_date"] >= cut]
    [auc_pr] = average_precision(train, test)
    assert 0.72 <= auc_pr <= 0.88, auc_pr


def test_covariate_drift_moves_spend_features_only_after_its_day(tmp_path: Path) -> None:
    # 90-day windows are only full from day 89 on, so the reference starts there.
    drift_day = 100
    config = SimulationConfig(customers=2000, days=106, drifts=(DriftSpec("covariate", drift_day),))
    d = run(config, tmp_path).data
    reference_days = [config.date_of(i) for i in range(89, 94)]
    checked_days = [config.date_of(i) for i in range(94, 106)]
    features = compute_features(
        d["customers"], d["transactions"], d["support_tickets"], reference_days + checked_days
    )
    reference = features[features["feature_date"].isin(reference_days)]
    by_day = {
        (day - config.start_date).days: {
            name: psi(reference[name].to_numpy(float), frame[name].to_numpy(float)) for name in X
        }
        for day, frame in features.groupby("feature_date")
        if day in checked_days
    }
    for day in range(94, drift_day):
        assert max(by_day[day].values()) < 0.1, (day, by_day[day])
    for name in ("total_amount_7d", "avg_transaction_amount"):
        assert by_day[drift_day + 4][name] > 0.2, (name, by_day[drift_day + 4])
        assert by_day[drift_day + 5][name] > by_day[drift_day + 4][name]


def test_concept_drift_breaks_a_model_trained_before_it(tmp_path: Path) -> None:
    drift_day = 60
    config = SimulationConfig(customers=3000, days=100, drifts=(DriftSpec("concept", drift_day),))
    d = run(config, tmp_path).data
    features = compute_features(d["customers"], d["transactions"], d["support_tickets"])
    labelled = labelled_features(features, d["churn_labels"])
    o = day_index(config, labelled["observation_date"])
    # Outcome windows of O < 30 end before the drift; those of O >= 60 lie wholly after it.
    train, before, after = labelled[o < 20], labelled[(o >= 20) & (o < 30)], labelled[o >= 60]
    auc_before, auc_after = average_precision(train, before, after)
    assert auc_before >= 0.7, auc_before
    assert auc_after <= auc_before - 0.3, (auc_before, auc_after)
    assert abs(after["churned"].mean() - before["churned"].mean()) < 0.04  # same churn rate
    day = day_index(config, pd.Series(features["feature_date"]))
    ref, cur = features[day.between(50, 59)], features[day == 85]
    for name in X:
        if name != "support_tickets_90d":  # its 90-day window is still filling up
            assert psi(ref[name].to_numpy(float), cur[name].to_numpy(float)) < 0.1, name


# ------------------------------------------------------------------------------------------
# config, CLI and hygiene
# ------------------------------------------------------------------------------------------


def test_drift_specs_parse_and_reject_garbage() -> None:
    assert DriftSpec.parse("covariate@60") == DriftSpec("covariate", 60)
    assert str(DriftSpec.parse("concept@0")) == "concept@0"
    for text in ("foo@x", "covariate", "covariate@", "concept@-1", "drift@3"):
        with pytest.raises(ValueError, match="KIND@DAY"):
            DriftSpec.parse(text)
    with pytest.raises(ValueError, match="days"):
        SimulationConfig(days=0)
    with pytest.raises(ValueError, match="corrupt_rate"):
        SimulationConfig(corrupt_rate=0.9)


def test_cli_simulate_writes_days_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    landing = tmp_path / "landing"
    argv = ["simulate", "--days", "3", "--customers", "50", "--drift", "covariate@1"]
    code = cli.main([*argv, "--landing-dir", str(landing)])
    assert code == 0
    assert [p.name for p in day_dirs(landing)] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    err = capsys.readouterr().err
    assert "day 3/3 2026-01-03:" in err
    assert "wrote 3 days (0 existing skipped)" in err


def test_cli_default_landing_dir_is_under_mlops_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    assert cli.main(["simulate", "--days", "1", "--customers", "20"]) == 0
    assert (tmp_path / "home" / "landing" / "2026-01-01" / "customers.csv").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--drift", "foo@x"], "argument --drift: invalid drift 'foo@x'"),
        (["--days", "0"], "argument --days"),
        (["--start-date", "01/01/2026"], "argument --start-date"),
        (["--corrupt-rate", "2"], "argument --corrupt-rate"),
    ],
)
def test_cli_bad_arguments_exit_2_with_a_clear_message(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["simulate", *argv, "--landing-dir", str(tmp_path)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_cli_refuses_a_landing_dir_of_another_world(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    where = ["--landing-dir", str(tmp_path)]
    assert cli.main(["simulate", "--days", "1", "--customers", "20", *where]) == 0
    assert cli.main(["simulate", "--days", "1", "--customers", "20", "--seed", "3", *where]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_simulator_stays_framework_free() -> None:
    """core/ must load without dagster, mlflow, feast or sklearn: numpy (and pandas) only."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(Path(simulator.__file__).read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add((node.module or "").split(".")[0])
    third_party = modules - set(sys.stdlib_module_names) - {"__future__", "mlops_assets"}
    assert third_party <= {"numpy", "pandas"}, third_party
