"""The schema of a model's YAML (`defs/models/<model>/defs.yaml`, `attributes:`).

Every field a model team sets lives here, with its type, its bounds and its default, so a wrong
file fails when the code location loads, naming the file, the field and what is allowed (Dagster
adds `file:line` to pydantic's message). Nothing is read from the Feast registry or MLflow here:
the only look beyond the YAML is a static scan of `feature_repo/` for the service's name.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Literal

import dagster as dg
from pydantic import Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"  # a key prefix, a job-name prefix, an MLflow name
IDENT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"  # a SQL identifier we quote ourselves


class EntitySpec(dg.Model):
    """What one prediction is about, and the key Feast joins features on."""

    name: str = Field(description="Feast entity name, e.g. the thing a row describes.")
    join_key: str = Field(pattern=IDENT_PATTERN, description="Column that identifies it.")


class FeaturesSpec(dg.Model):
    """Where the model's inputs come from."""

    service: str = Field(
        description="Feast feature service: the single source of the model's inputs."
    )
    mart: str = Field(
        pattern=IDENT_PATTERN,
        description="dbt model with one row per entity per day (the scoring population's source).",
    )
    date_column: str = Field(default="feature_date", pattern=IDENT_PATTERN)


class LabelsSpec(dg.Model):
    """The label source: a dbt model of delayed labels."""

    dbt_model: str = Field(pattern=IDENT_PATTERN)
    column: str = Field(pattern=IDENT_PATTERN, description="0/1 label column.")
    date_column: str = Field(
        pattern=IDENT_PATTERN, description="The day the prediction was made for (score day)."
    )
    arrived_column: str = Field(
        pattern=IDENT_PATTERN, description="The day the label landed (replays filter on it)."
    )
    timestamp_column: str = Field(
        default="event_timestamp",
        pattern=IDENT_PATTERN,
        description="Point-in-time of the label's features (UTC).",
    )
    delay_days: int = Field(ge=1, le=3650, description="Labels of day D land on D + delay.")


class PartitionsSpec(dg.Model):
    start_date: dt.date = Field(description="First daily partition of the model's assets.")


class BaselineSpec(dg.Model):
    """A rule the model must beat: a SQL expression over the model's inputs (DuckDB; higher
    means more likely positive), scored on the same held-out window as every candidate."""

    name: str = Field(pattern=IDENT_PATTERN, description="Short name of the rule.")
    description: str = ""
    score: str = Field(min_length=1, description="SQL expression over the inputs.")

    @field_validator("score")
    @classmethod
    def _one_expression(cls, value: str) -> str:
        if ";" in value or "--" in value or "/*" in value:
            raise ValueError("must be one SQL expression (no ';' or comments)")
        return value


class PopulationSpec(dg.Model):
    """Who is scored (and profiled as the drift reference): a SQL predicate over the model's
    inputs. It runs over the features mart when scoring and over the training set when the
    drift reference is built, so it may name the feature service's fields only."""

    sql: str = Field(min_length=1)
    description: str = ""

    @field_validator("sql")
    @classmethod
    def _one_predicate(cls, value: str) -> str:
        if ";" in value or "--" in value or "/*" in value:
            raise ValueError("must be one SQL predicate (no ';' or comments)")
        return value


class SklearnParams(dg.Model):
    """scikit-learn HistGradientBoosting pipeline (see core.training.SklearnParams)."""

    learning_rate: float = Field(0.05, gt=0, le=1)
    max_iter: int = Field(300, ge=1, le=10_000)
    max_leaf_nodes: int = Field(31, ge=2)
    max_depth: int | None = Field(6, ge=1)
    min_samples_leaf: int = Field(20, ge=1)
    l2_regularization: float = Field(1.0, ge=0)


class XGBoostParams(dg.Model):
    """XGBoost classifier (see core.training.XGBoostParams)."""

    n_estimators: int = Field(300, ge=1, le=10_000)
    max_depth: int = Field(5, ge=1, le=32)
    learning_rate: float = Field(0.05, gt=0, le=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    min_child_weight: float = Field(1.0, ge=0)
    reg_lambda: float = Field(1.0, ge=0)
    gamma: float = Field(0.0, ge=0)


class SklearnCandidate(dg.Model):
    kind: Literal["sklearn"]
    params: SklearnParams = SklearnParams()


class XGBoostCandidate(dg.Model):
    kind: Literal["xgboost"]
    params: XGBoostParams = XGBoostParams()


Candidate = Annotated[SklearnCandidate | XGBoostCandidate, Field(discriminator="kind")]


class TrainingSpec(dg.Model):
    test_fraction: float = Field(0.25, gt=0, lt=1, description="Newest share of rows held out.")
    seed: int = 42
    window_days: int | None = Field(
        None, ge=1, description="Newest N labelled days; none = every labelled day."
    )
    min_post_onset_days: int = Field(
        28,
        ge=2,
        description="Labelled days after an episode's onset before a retraining learns from "
        "them only (fewer: the newest window, judged on the post-onset days).",
    )


GateMetric = Literal["auc_pr", "roc_auc"]


class GateSpec(dg.Model):
    """The approval gate (a blocking check on `<model>/challenger`)."""

    metric: GateMetric = "auc_pr"
    floor: float = Field(ge=0, le=1, description="Absolute floor of the metric.")
    tolerance: float = Field(0.01, ge=0, le=1, description="Allowed shortfall vs the champion.")
    min_test_rows: int = Field(500, ge=0, description="Held-out rows the gate needs to decide.")
    min_test_positives: int = Field(50, ge=0, description="… positive labels among them.")
    min_test_days: int = Field(7, ge=0, description="… distinct days they span.")
    approve_below_floor: bool = Field(
        True,
        description="A challenger that beats the champion on the same window but misses the "
        "floor waits for a person's approval (approve_model job) instead of failing.",
    )
    require_approval: bool = Field(
        False, description="Every passing challenger waits for a person's approval."
    )

    def evidence_policy(self):
        from mlops_assets.core.promotion import EvidencePolicy

        return EvidencePolicy(self.min_test_rows, self.min_test_positives, self.min_test_days)


class DriftSpec(dg.Model):
    psi_warn: float = Field(0.1, gt=0)
    psi_fail: float = Field(0.2, gt=0)
    missing_rate_ratio: float = Field(2.0, gt=1)
    warm_up_days: int = Field(
        30, ge=1, description="First days of history: shown, never trigger anything."
    )

    @model_validator(mode="after")
    def _ordered(self) -> DriftSpec:
        if self.psi_warn >= self.psi_fail:
            raise ValueError(f"psi_warn ({self.psi_warn}) must be below psi_fail ({self.psi_fail})")
        return self


class PerformanceSpec(dg.Model):
    auc_pr_floor: float = Field(
        0.65, ge=0, le=1, description="AUC-PR of a labelled day below this triggers retraining."
    )


class OutputsSpec(dg.Model):
    """Output and business monitoring of each scored day (checks on `<model>/drift_report` and
    `<model>/model_performance`); defaults from the monitoring notes."""

    kl_max: float = Field(0.1, gt=0, description="Score distribution: KL vs the reference.")
    psi_max: float = Field(0.2, gt=0, description="Score distribution: PSI vs the reference.")
    bucket_edges: list[float] = Field(
        default_factory=lambda: [0.3, 0.7], description="Score cut-offs of the buckets."
    )
    bucket_deviation_max: float = Field(
        0.2, gt=0, description="Largest relative change of a bucket's share vs the reference."
    )
    volume_min_ratio: float = Field(0.5, gt=0, lt=1, description="vs same weekday last week.")
    volume_max_ratio: float = Field(2.0, gt=1, description="vs same weekday last week.")
    range_sigmas: float = Field(3.0, gt=0, description="Training range ± this many σ.")
    out_of_range_max_share: float = Field(0.01, ge=0, le=1)
    top_fraction: float = Field(0.1, gt=0, le=1, description="Top decile by default.")
    precision_floor: float = Field(0.0, ge=0, le=1, description="Precision in the top fraction.")
    recall_floor: float = Field(0.0, ge=0, le=1, description="Recall in the top fraction.")

    def thresholds(self):
        from mlops_assets.core.output_monitoring import OutputThresholds

        return OutputThresholds(**{**self.model_dump(), "bucket_edges": tuple(self.bucket_edges)})

    @model_validator(mode="after")
    def _valid(self) -> OutputsSpec:
        self.thresholds()  # its checks (edges within (0, 1), increasing) as a schema error
        return self


class CostSpec(dg.Model):
    monthly_budget: float | None = Field(
        None, gt=0, description="Compute + storage budget per month (Settings' currency)."
    )


class RetrainingSpec(dg.Model):
    min_drifted_features: int = Field(2, ge=1)
    consecutive_days: int = Field(2, ge=1)
    cooldown_days: int = Field(14, ge=0)
    new_label_days: int = Field(14, ge=1, description="New labelled days that justify a retrain.")
    retry_label_days: int = Field(
        7,
        ge=1,
        description="In an episode: new labelled days before a failed retraining is retried.",
    )
    backoff_factor: float = Field(2.0, ge=1, description="… multiplied after each failure.")
    max_retry_wait_days: int = Field(28, ge=1, description="… up to this cap.")
    max_attempts: int = Field(
        3, ge=1, description="Retrainings in one episode that did not end it before it escalates."
    )
    recovery_days: int = Field(
        2, ge=1, description="Labelled days in a row at/above the floor that close an episode."
    )


class SchedulesSpec(dg.Model):
    retrain_cron: str = Field("0 4 * * 1", description="Scheduled retraining (cron, UTC).")
    scoring_hour: int = Field(
        3, ge=0, le=23, description="Daily scoring fallback: previous day, at this hour."
    )

    @field_validator("retrain_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from dagster._utils.schedules import is_valid_cron_string

        if not is_valid_cron_string(value):
            raise ValueError(f"{value!r} is not a valid cron expression")
        return value


class ServingSpec(dg.Model):
    """Online serving: the canary's steps and the budgets a step must stay within, and what an
    A/B test needs before it is decided."""

    canary_steps: list[float] = Field(
        default_factory=lambda: [5.0, 25.0, 50.0, 100.0],
        min_length=1,
        description="Challenger traffic per step, in %, increasing, ending at 100 (promote).",
    )
    min_answers: int = Field(200, ge=1, description="Challenger answers before a step is judged.")
    max_error_rate: float = Field(0.001, ge=0, le=1, description="Challenger error budget.")
    max_p95_ms: float = Field(
        50.0, gt=0, description="Budget of the p95 of the challenger's scoring time per request."
    )
    max_score_psi: float = Field(
        0.25, gt=0, description="Challenger vs champion score shift (PSI) budget."
    )
    check_seconds: int = Field(30, ge=5, le=3600, description="How often the canary is judged.")
    ab_min_samples: int = Field(
        1000, ge=1, description="A/B test: labelled answers each variant needs before a verdict."
    )
    ab_min_days: int = Field(7, ge=1, description="A/B test: labelled days before a verdict.")
    ab_alpha: float = Field(
        0.05, gt=0, lt=1, description="A/B test: significance level (two-sided)."
    )
    ab_bootstrap: int = Field(
        1000, ge=100, le=100_000, description="A/B test: bootstrap resamples of the difference."
    )

    @field_validator("canary_steps")
    @classmethod
    def _steps(cls, value: list[float]) -> list[float]:
        if value != sorted(set(value)) or value[0] <= 0 or value[-1] != 100:
            raise ValueError(f"must increase strictly within (0, 100] and end at 100, got {value}")
        return value

    def policy(self):
        from mlops_assets.core.rollout import CanaryPolicy

        return CanaryPolicy(
            steps=tuple(self.canary_steps),
            min_answers=self.min_answers,
            max_error_rate=self.max_error_rate,
            max_p95_ms=self.max_p95_ms,
            max_score_psi=self.max_score_psi,
        )

    def ab_policy(self):
        from mlops_assets.core.ab_test import ABPolicy

        return ABPolicy(
            min_samples=self.ab_min_samples,
            min_days=self.ab_min_days,
            alpha=self.ab_alpha,
            bootstrap=self.ab_bootstrap,
        )


class ModelSpec(dg.Model):
    """One model pipeline, declared: everything the component needs to build its layer."""

    name: str = Field(pattern=NAME_PATTERN, description="Asset-key prefix and MLflow name.")
    description: str = Field(min_length=1)
    owners: list[str] = Field(default_factory=lambda: ["team:ml-platform"], min_length=1)
    dataset: str = Field(
        pattern=NAME_PATTERN,
        description="The dataset the model's features come from (defs/datasets/<dataset>/): "
        "its online features start the model's scoring, its landed days its warm-up.",
    )
    entity: EntitySpec
    features: FeaturesSpec
    labels: LabelsSpec
    partitions: PartitionsSpec
    population: PopulationSpec
    candidates: list[Candidate] = Field(min_length=1)
    training: TrainingSpec = TrainingSpec()
    gate: GateSpec
    baseline: BaselineSpec | None = Field(
        None, description="A rule the challenger must beat on the held-out window (gate)."
    )
    drift: DriftSpec = DriftSpec()
    performance: PerformanceSpec = PerformanceSpec()
    outputs: OutputsSpec = OutputsSpec()
    cost: CostSpec = CostSpec()
    retraining: RetrainingSpec = RetrainingSpec()
    schedules: SchedulesSpec = SchedulesSpec()
    serving: ServingSpec = ServingSpec()

    @field_validator("candidates")
    @classmethod
    def _one_per_kind(cls, value: list) -> list:
        kinds = [c.kind for c in value]
        twice = sorted({k for k in kinds if kinds.count(k) > 1})
        if twice:
            raise ValueError(f"each candidate kind may appear once; repeated: {twice}")
        return value

    @field_validator("owners")
    @classmethod
    def _owners(cls, value: list[str]) -> list[str]:
        bad = [o for o in value if not (o.startswith("team:") or "@" in o)]
        if bad:
            raise ValueError(f"owners must be 'team:<name>' or an e-mail address, got {bad}")
        return value

    @property
    def keys(self) -> ModelKeys:
        return ModelKeys(self.name)


class ModelKeys:
    """Asset keys, group names and job/sensor names of one model: `<model>/...`."""

    def __init__(self, model: str):
        self.model = model

    def asset(self, name: str) -> dg.AssetKey:
        return dg.AssetKey([self.model, name])

    def group(self, area: str) -> str:
        return f"{self.model}_{area}"

    def name(self, what: str) -> str:
        return f"{self.model}_{what}"

    @property
    def training_set(self) -> dg.AssetKey:
        return self.asset("training_set")

    @property
    def challenger(self) -> dg.AssetKey:
        return self.asset("challenger")

    @property
    def champion(self) -> dg.AssetKey:
        return self.asset("champion")

    @property
    def onnx(self) -> dg.AssetKey:
        return self.asset("onnx")

    @property
    def daily_scores(self) -> dg.AssetKey:
        return self.asset("daily_scores")

    @property
    def drift_report(self) -> dg.AssetKey:
        return self.asset("drift_report")

    @property
    def model_performance(self) -> dg.AssetKey:
        return self.asset("model_performance")

    @property
    def retraining_history(self) -> dg.AssetKey:
        return self.asset("retraining_history")

    @property
    def prediction_log(self) -> dg.AssetKey:
        return self.asset("prediction_log")

    @property
    def ab_test(self) -> dg.AssetKey:
        return self.asset("ab_test")

    def candidate(self, kind: str) -> dg.AssetKey:
        return self.asset(f"candidate_{kind}")


# --------------------------------------------------------------------------------------------
# the one check beyond the YAML: does feature_repo/ declare the feature service?


class ModelSpecError(ValueError):
    """A model YAML that parses but cannot work (the message names the file and the field)."""


_SERVICE_CALL = re.compile(r"\bFeatureService\b")


def declared_feature_services(repo: Path) -> list[str]:
    """Names of the `FeatureService(name=...)` objects declared in a Feast repo's Python files,
    found by parsing them (nothing imported, no registry read: cheap at code-location load)."""
    names: set[str] = set()
    for path in sorted(Path(repo).glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if not _SERVICE_CALL.search(text):
            continue
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if called != "FeatureService":
                continue
            for kw in node.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                    names.add(str(kw.value.value))
    return sorted(names)


def check_feature_service(spec: ModelSpec, repo: Path, source: str) -> None:
    """Fail with the file, the field and the services the repo declares."""
    if not Path(repo).is_dir():
        raise ModelSpecError(
            f"{source}: attributes.features.service: the Feast repo {repo} does not exist"
        )
    available = declared_feature_services(repo)
    if spec.features.service not in available:
        raise ModelSpecError(
            f"{source}: attributes.features.service: feature service "
            f"{spec.features.service!r} is not declared in {repo}; available: "
            f"{', '.join(available) or 'none'}"
        )


def check_dataset(spec: ModelSpec, datasets_dir: Path, source: str) -> None:
    """The model's dataset is declared (`<datasets_dir>/<dataset>/defs.yaml`): fail with the
    file, the field and the declared datasets."""
    if not (Path(datasets_dir) / spec.dataset / "defs.yaml").is_file():
        declared = sorted(p.parent.name for p in Path(datasets_dir).glob("*/defs.yaml"))
        raise ModelSpecError(
            f"{source}: attributes.dataset: dataset {spec.dataset!r} is not declared "
            f"(no {Path(datasets_dir) / spec.dataset / 'defs.yaml'}); declared: "
            f"{', '.join(declared) or 'none'}"
        )


# --------------------------------------------------------------------------------------------
# reading a model YAML outside Dagster's loader (tests, the runner, tooling)

MODELS_DIR = Path(__file__).resolve().parents[2] / "defs" / "models"


def load_spec(path: Path | str) -> ModelSpec:
    """The `attributes:` of a model's `defs.yaml`, validated like the component loader does;
    a `ModelSpecError` names the file, each wrong field and what is allowed."""
    import yaml
    from pydantic import ValidationError

    path = Path(path)
    doc = yaml.safe_load(path.read_text()) or {}
    attributes = doc.get("attributes") if isinstance(doc, dict) else None
    if not isinstance(attributes, dict):
        raise ModelSpecError(f"{path}: `attributes:` must be a mapping of the model's fields")
    try:
        return ModelSpec.model_validate(attributes)
    except ValidationError as err:
        problems = "; ".join(
            f"attributes.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise ModelSpecError(f"{path}: {problems}") from err


def model_specs(models_dir: Path = MODELS_DIR) -> list[ModelSpec]:
    """Every declared model (`<models_dir>/<model>/defs.yaml`), in name order."""
    return [load_spec(p) for p in sorted(Path(models_dir).glob("*/defs.yaml"))]
