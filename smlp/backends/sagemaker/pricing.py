"""Cost estimates for a dry run: instance-hours times the on-demand rate of a dated table.

A job's billed time is unknown before it runs, so each estimate uses an assumed duration
(``backend.estimate_*_minutes``) and also shows the ceiling its ``MaxRuntimeInSeconds`` allows.
Every assumption made is returned with the numbers, to be printed next to them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

FALLBACK_REGION = "us-east-1"


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


@dataclass
class Estimate:
    currency: str
    price_table_as_of: str
    region: str
    lines: list[CostLine] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(line.cost or 0.0 for line in self.lines), 4)

    @property
    def max_total(self) -> float:
        return round(sum(line.max_cost or 0.0 for line in self.lines), 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "total": self.total,
            "ceiling_at_max_runtime": self.max_total,
            "price_table_as_of": self.price_table_as_of,
            "region": self.region,
            "jobs": [asdict(line) for line in self.lines],
            "assumptions": self.assumptions,
        }


@lru_cache(maxsize=1)
def price_table() -> dict[str, Any]:
    text = resources.files("smlp.backends.sagemaker").joinpath("prices.json").read_text()
    return json.loads(text)


def hourly_price(region: str, instance_type: str) -> tuple[float | None, str]:
    """The on-demand rate and a note when it had to be borrowed from another region."""
    regions = price_table()["regions"]
    table = regions.get(region)
    note = ""
    if isinstance(table, str):
        table = regions[table]
    if table is None:
        table = regions[FALLBACK_REGION]
        note = (f"no {region} rates in the table: {FALLBACK_REGION} rates used; rates "
                "elsewhere are usually somewhat higher")
    price = table.get(instance_type)
    if price is None:
        return None, f"{instance_type} is not in the price table: not estimated"
    return float(price), note


class Estimator:
    """Collects one cost line per job request and the assumptions behind them."""

    def __init__(self, region: str, training_minutes: float, transform_minutes: float,
                 use_spot: bool = False) -> None:
        table = price_table()
        self.region = region
        self.training_minutes = training_minutes
        self.transform_minutes = transform_minutes
        self.estimate = Estimate(table["currency"], table["as_of"], region)
        self.estimate.assumptions = [
            f"on-demand hourly rates from smlp's price table dated {table['as_of']} "
            f"({table['source']}), region {region}",
            f"each training job bills {training_minutes:g} min per instance, each transform "
            f"job {transform_minutes:g} min (set backend.estimate_training_minutes / "
            "estimate_transform_minutes); the ceiling uses each job's MaxRuntimeInSeconds "
            "(transform jobs have none)",
            "a tuning job runs MaxNumberOfTrainingJobs trials of that length",
            "not included: S3 storage and requests, CloudWatch Logs, data transfer, KMS",
            *table["notes"],
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
        if operation == "CreateTransformJob":
            resources_ = request["TransformResources"]
            hours = self.transform_minutes / 60
            return self._line(request["TransformJobName"], "transform",
                              resources_["InstanceType"], resources_["InstanceCount"], 1,
                              hours, None)
        return None

    def _training(self, name: str, kind: str, body: dict[str, Any], jobs: int) -> CostLine:
        resources_ = body["ResourceConfig"]
        max_hours = body["StoppingCondition"]["MaxRuntimeInSeconds"] / 3600
        return self._line(name, kind, resources_["InstanceType"], resources_["InstanceCount"],
                          jobs, self.training_minutes / 60, max_hours)

    def _line(self, name: str, kind: str, instance_type: str, count: int, jobs: int,
              hours: float, max_hours: float | None) -> CostLine:
        price, note = hourly_price(self.region, instance_type)
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
