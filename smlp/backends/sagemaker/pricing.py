"""Cost estimates for a dry run: instance-hours times the on-demand rate of a dated table.

A job's billed time is unknown before it runs, so each estimate uses an assumed duration
(``backend.estimate_*_minutes``) and also shows the ceiling its ``MaxRuntimeInSeconds`` allows.
Every assumption made is returned with the numbers, to be printed next to them.

The rates come from ``prices.json`` beside this module (a built-in table, marked unverified)
overlaid by the user-level file ``smlp prices update`` writes from the AWS Price List API
(``override_path()``): a region the user file holds is taken from it whole.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from smlp.errors import ConfigError

FALLBACK_REGION = "us-east-1"
OVERRIDE_ENV = "SMLP_PRICES_FILE"  # a path that replaces the default user-level file
KINDS = ("training", "transform", "hosting")  # hosting: real-time endpoints


@dataclass
class CostLine:
    job: str
    kind: str  # training | tuning | transform
    instance_type: str
    instance_count: int
    jobs: int
    assumed_hours: float
    max_hours: float | None
    price_per_hour: float | None
    cost: float | None
    max_cost: float | None
    note: str = ""

    @property
    def ceiling(self) -> float | None:
        """The most this job can bill: its runtime limit, else (transform) its estimate."""
        return self.max_cost if self.max_cost is not None else self.cost


@dataclass
class Estimate:
    currency: str
    price_table_as_of: str
    region: str
    lines: list[CostLine] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    price_source: str = ""
    price_verified: bool = False
    price_label: str = ""  # short: "eu-west-1 prices as of 2024-06-01, built-in table, ..."

    @property
    def total(self) -> float:
        return round(sum(line.cost or 0.0 for line in self.lines), 4)

    @property
    def max_total(self) -> float:
        return round(sum(line.max_cost or 0.0 for line in self.lines), 2)

    @property
    def ceiling(self) -> float:
        """Every job at its runtime limit; jobs without one (transform) at their estimate."""
        return round(sum(line.ceiling or 0.0 for line in self.lines), 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "total": self.total,
            "ceiling_at_max_runtime": self.max_total,
            "ceiling": self.ceiling,
            "price_table_as_of": self.price_table_as_of,
            "price_table": self.price_label,
            "price_table_source": self.price_source,
            "price_table_verified": self.price_verified,
            "region": self.region,
            "jobs": [asdict(line) for line in self.lines],
            "assumptions": self.assumptions,
        }


# -- the table ------------------------------------------------------------------------------------
def override_path() -> Path:
    """The user-level table ``smlp prices update`` writes (never inside site-packages)."""
    explicit = os.environ.get(OVERRIDE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "smlp" / "prices.json"


@lru_cache(maxsize=1)
def builtin_table() -> dict[str, Any]:
    text = resources.files("smlp.backends.sagemaker").joinpath("prices.json").read_text()
    return json.loads(text)


@lru_cache(maxsize=4)
def _read_override(path: str, stamp: int) -> dict[str, Any] | None:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable price table ({exc}); run `smlp prices "
                          "update` again or delete it to use the built-in table") from None
    if not isinstance(data, dict) or not isinstance(data.get("regions"), dict):
        raise ConfigError(f"{path}: expected a JSON object with \"regions\"; run `smlp prices "
                          "update` again or delete it to use the built-in table")
    return data


def override_table() -> dict[str, Any] | None:
    path = override_path()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    return _read_override(str(path), stamp)


def price_table() -> dict[str, Any]:
    """The built-in table with the user-level file's regions laid over it."""
    table = dict(builtin_table())
    override = override_table()
    if override:
        table["regions"] = {**table["regions"], **override["regions"]}
    return table


@dataclass
class RegionRates:
    """One region's hourly rates and where they come from."""

    region: str
    training: dict[str, float]
    transform: dict[str, float]
    hosting: dict[str, float]
    as_of: str
    source: str
    verified: bool
    note: str = ""  # set when another region's rates stand in
    origin: str = ""  # in a few words: "Price List API", "built-in table", "us-east-1 × 1.115"

    def price(self, instance_type: str, kind: str = "training") -> float | None:
        """The rate for ``kind`` (training, transform, hosting); the Training rate where the
        table has none of its own for that kind (the built-in table has Training only)."""
        own = {"transform": self.transform, "hosting": self.hosting}.get(kind) or {}
        value = own.get(instance_type, self.training.get(instance_type))
        return None if value is None else float(value)

    def describe(self) -> str:
        checked = "" if self.verified else ", unverified"
        return f"{self.region} rates as of {self.as_of} ({self.origin}{checked}): {self.source}"

    def label(self) -> str:
        """Short, for the estimate line: ``prices as of 2024-06-01, built-in table, unverified``."""
        checked = "" if self.verified else ", unverified"
        return f"{self.region} prices as of {self.as_of}, {self.origin}{checked}"


def region_rates(region: str) -> RegionRates:
    regions = price_table()["regions"]
    note = ""
    if region not in regions:
        note = (f"no {region} rates in the price table: {FALLBACK_REGION} rates used (rates "
                f"elsewhere are usually higher); `smlp prices update --region {region}` "
                "fetches them")
        region_used = FALLBACK_REGION
    else:
        region_used = region
    rates = _resolve(regions, region_used, depth=0)
    rates.region, rates.note = region, note
    return rates


def _resolve(regions: dict[str, Any], region: str, depth: int) -> RegionRates:
    entry = regions[region]
    if isinstance(entry, str):  # the schema-1 alias form: "us-east-2": "us-east-1"
        entry = {"derived_from": entry, "factor": 1.0, "basis": f"same as {entry}"}
    base_name = entry.get("derived_from")
    if base_name and depth < 4:
        base = _resolve(regions, base_name, depth + 1)
        factor = float(entry.get("factor", 1.0))
        return RegionRates(
            region, *({k: round(v * factor, 4) for k, v in rates.items()}
                      for rates in (base.training, base.transform, base.hosting)),
            base.as_of, entry.get("basis", f"derived from {base_name}"),
            bool(entry.get("verified", False)) and base.verified,
            origin=f"{base.origin}, {base_name} × {factor:g}")
    verified = bool(entry.get("verified", False))
    return RegionRates(region, *(dict(entry.get(kind, {})) for kind in KINDS),
                       str(entry.get("as_of", "")), str(entry.get("source", "")), verified,
                       origin="Price List API" if verified else "built-in table")


def hourly_price(region: str, instance_type: str, kind: str = "training"
                 ) -> tuple[float | None, str]:
    """The on-demand rate and a note when it had to be borrowed from another region."""
    rates = region_rates(region)
    price = rates.price(instance_type, kind)
    if price is None:
        return None, f"{instance_type} is not in the price table: not estimated"
    return price, rates.note


class Estimator:
    """Collects one cost line per job request and the assumptions behind them."""

    def __init__(self, region: str, training_minutes: float, transform_minutes: float,
                 use_spot: bool = False) -> None:
        table = price_table()
        rates = region_rates(region)
        self.region = region
        self.training_minutes = training_minutes
        self.transform_minutes = transform_minutes
        self.processing_minutes = training_minutes  # backend.processing.estimate_minutes
        self.estimate = Estimate(table["currency"], rates.as_of, region,
                                 price_source=rates.describe(), price_verified=rates.verified,
                                 price_label=rates.label())
        self.estimate.assumptions = [
            f"on-demand hourly rates from the price table dated {rates.as_of}: "
            f"{rates.describe()}",
            f"each training job bills {training_minutes:g} min per instance, each transform "
            f"job {transform_minutes:g} min (set backend.estimate_training_minutes / "
            "estimate_transform_minutes); the ceiling uses each job's MaxRuntimeInSeconds "
            "(transform jobs have none)",
            "a tuning job runs MaxNumberOfTrainingJobs trials of that length",
            "not included: S3 storage and requests, CloudWatch Logs, data transfer, KMS",
            # The built-in table's caveats, less "unverified" when the region's rates were
            # fetched from the Price List API.
            *[note for note in table["notes"] if not (rates.verified and "verified" in note)],
        ]
        if use_spot:
            self.estimate.assumptions.append(
                "spot training is on: it often costs 60-90% less than the on-demand figures "
                "shown, which are the upper bound")

    def add(self, operation: str, request: dict[str, Any]) -> CostLine | None:
        if operation == "CreateTrainingJob":
            return self._training(request["TrainingJobName"], "training", request, 1)
        if operation == "CreateHyperParameterTuningJob":
            definition = request["TrainingJobDefinition"]
            limits = request["HyperParameterTuningJobConfig"]["ResourceLimits"]
            trials = limits.get("MaxNumberOfTrainingJobs")
            line = self._training(request["HyperParameterTuningJobName"], "tuning",
                                  definition, trials or 1)
            if trials is None:
                line.note = "Grid: one trial per combination; cost shown for one trial"
            return line
        if operation == "CreateProcessingJob":  # no Processing rates in the table: Training's
            cluster = request["ProcessingResources"]["ClusterConfig"]
            limit = request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
            note = ("processing jobs priced at the training rate (the price table has no "
                    f"Processing rates); each bills {self.processing_minutes:g} min per "
                    "instance (set backend.processing.estimate_minutes)")
            if note not in self.estimate.assumptions:
                self.estimate.assumptions.append(note)
            return self._line(request["ProcessingJobName"], "processing",
                              cluster["InstanceType"], cluster["InstanceCount"], 1,
                              self.processing_minutes / 60,
                              None if limit is None else limit / 3600)
        if operation == "CreateTransformJob":
            resources_ = request["TransformResources"]
            hours = self.transform_minutes / 60
            return self._line(request["TransformJobName"], "transform",
                              resources_["InstanceType"], resources_["InstanceCount"], 1,
                              hours, None, price_kind="transform")
        return None

    def _training(self, name: str, kind: str, body: dict[str, Any], jobs: int) -> CostLine:
        resources_ = body["ResourceConfig"]
        max_hours = body["StoppingCondition"]["MaxRuntimeInSeconds"] / 3600
        return self._line(name, kind, resources_["InstanceType"], resources_["InstanceCount"],
                          jobs, self.training_minutes / 60, max_hours)

    def _line(self, name: str, kind: str, instance_type: str, count: int, jobs: int,
              hours: float, max_hours: float | None, price_kind: str = "training") -> CostLine:
        price, note = hourly_price(self.region, instance_type, price_kind)
        if note and note not in self.estimate.assumptions:
            self.estimate.assumptions.append(note)
        factor = count * jobs
        line = CostLine(
            job=name, kind=kind, instance_type=instance_type, instance_count=count, jobs=jobs,
            assumed_hours=round(hours, 4), max_hours=max_hours, price_per_hour=price,
            cost=None if price is None else round(price * hours * factor, 4),
            max_cost=None if price is None or max_hours is None
            else round(price * max_hours * factor, 2),
        )
        self.estimate.lines.append(line)
        return line
