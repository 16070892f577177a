"""A synthetic California-housing-style table with the structure that makes models differ.

Value rises with income (with diminishing returns), falls steeply with distance from the
coast and from the two big metros, depends on crowding, and is capped at 5.0 as the census
data is. Trees capture the thresholds and interactions; k-NN captures the geography.
The same seed gives the same values and therefore the same bytes.
"""

from __future__ import annotations

from typing import Any

FEATURES = (
    "MedInc", "HouseAge", "AveRooms", "AveBedrms",
    "Population", "AveOccup", "Latitude", "Longitude",
)
TARGET = "MedHouseVal"

# (latitude, longitude, share of rows, income multiplier, spread in degrees)
_METROS = (
    (34.05, -118.25, 0.33, 1.05, 0.45),  # Los Angeles
    (37.70, -122.20, 0.20, 1.35, 0.35),  # San Francisco Bay
    (32.80, -117.10, 0.08, 1.10, 0.25),  # San Diego
    (38.58, -121.40, 0.07, 0.95, 0.30),  # Sacramento
    (36.75, -119.75, 0.08, 0.75, 0.45),  # Fresno / Central Valley
)
# Piecewise-linear coast: longitude of the shoreline at a latitude.
_COAST = ((32.5, -117.1), (34.0, -118.5), (34.5, -120.6), (36.0, -121.6),
          (37.8, -122.6), (40.0, -124.3), (42.0, -124.3))


def coast_longitude(latitude: Any) -> Any:
    import numpy as np

    lats, lons = zip(*_COAST, strict=True)
    return np.interp(latitude, lats, lons)


def generate(rows: int, seed: int) -> Any:
    """Return a ``pyarrow.Table`` of ``rows`` rows: the 8 features, then the target."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    shares = np.array([m[2] for m in _METROS] + [1 - sum(m[2] for m in _METROS)])
    region = rng.choice(len(shares), size=rows, p=shares)
    rural = region == len(_METROS)

    lat = np.empty(rows)
    lon = np.empty(rows)
    income_mult = np.ones(rows)
    for index, (mlat, mlon, _, mult, spread) in enumerate(_METROS):
        mask = region == index
        count = int(mask.sum())
        lat[mask] = mlat + rng.normal(0, spread, count)
        lon[mask] = mlon + rng.normal(0, spread, count)
        income_mult[mask] = mult
    count = int(rural.sum())
    lat[rural] = rng.uniform(32.6, 41.9, count)
    lon[rural] = coast_longitude(lat[rural]) + rng.gamma(2.0, 1.1, count)
    lat = np.clip(lat, 32.54, 41.95)
    coast = coast_longitude(lat)
    lon = np.clip(lon, coast + 0.02, -114.31)
    income_mult[rural] = 0.8

    coast_km = (lon - coast) * 90.0
    metro_km = 111.0 * np.minimum(
        np.hypot(lat - 34.05, lon + 118.25), np.hypot(lat - 37.70, lon + 122.20)
    )

    med_inc = np.exp(rng.normal(np.log(3.4), 0.45, rows)) * income_mult
    med_inc *= 1 + 0.25 * np.exp(-coast_km / 15)
    med_inc = np.clip(med_inc, 0.4999, 15.0001)

    house_age = np.clip(np.round(rng.triangular(1, 30, 60, rows)), 1, 52)
    ave_rooms = np.clip(3.2 + 0.45 * med_inc + rng.gamma(2.0, 0.35, rows) - 0.4 * ~rural,
                        0.85, 140)
    ave_bedrms = np.clip(ave_rooms * rng.normal(0.205, 0.02, rows), 0.33, 34)
    population = np.round(np.exp(rng.normal(np.log(1150), 0.65, rows)) * (1 + 0.4 * ~rural))
    population = np.clip(population, 3, 35_682)
    ave_occup = np.clip(np.exp(rng.normal(np.log(2.9), 0.28, rows)) + 0.25 * (med_inc < 2.5),
                        0.69, 1243)

    value = (
        0.42 * np.log1p(med_inc) * (2.2 + 1.6 * np.exp(-coast_km / 25))
        + 0.28 * med_inc
        + 1.35 * np.exp(-coast_km / 12)
        + 0.75 * np.exp(-metro_km / 60)
        - 0.55 * np.tanh((ave_occup - 3.0) / 1.5)
        + 0.004 * house_age * np.exp(-metro_km / 120)
        - 0.25 * (lat > 38.8) * (coast_km > 50)
        - 0.9
    )
    value *= np.exp(rng.normal(0, 0.18, rows))
    value = np.clip(value, 0.14999, 5.00001)

    columns = {
        "MedInc": np.round(med_inc, 4),
        "HouseAge": house_age,
        "AveRooms": np.round(ave_rooms, 6),
        "AveBedrms": np.round(ave_bedrms, 6),
        "Population": population,
        "AveOccup": np.round(ave_occup, 6),
        "Latitude": np.round(lat, 2),
        "Longitude": np.round(lon, 2),
        TARGET: np.round(value, 5),
    }
    return pa.table({name: pa.array(values, pa.float64()) for name, values in columns.items()})


# Classification from the same table: the target replaced by what a buyer would ask.
BINARY_TARGET = "Expensive"  # value above 2.5 (about 40 % of rows): yes / no
BINARY_THRESHOLD = 2.5
MULTICLASS_TARGET = "PriceBand"  # value bands of roughly a quarter of rows each
BANDS = ((1.2, "low"), (2.0, "mid"), (3.0, "high"), (float("inf"), "top"))


def target_for(problem_type: str) -> str:
    return {"binary": BINARY_TARGET, "multiclass": MULTICLASS_TARGET}.get(problem_type, TARGET)


def generate_for(problem_type: str, rows: int, seed: int) -> Any:
    """``generate`` for a problem type: regression (and auto) as is; binary or multiclass with
    the value turned into text labels, so the label map and its outputs show."""
    import numpy as np
    import pyarrow as pa

    table = generate(rows, seed)
    if problem_type not in ("binary", "multiclass"):
        return table
    value = table.column(TARGET).to_numpy()
    if problem_type == "binary":
        labels = np.where(value > BINARY_THRESHOLD, "yes", "no")
    else:
        edges = np.array([edge for edge, _ in BANDS[:-1]])
        names = np.array([name for _, name in BANDS])
        labels = names[np.searchsorted(edges, value, side="right")]
    table = table.drop_columns([TARGET])
    return table.append_column(target_for(problem_type), pa.array(labels.tolist(), pa.string()))
