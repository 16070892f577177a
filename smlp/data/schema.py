"""The recorded schema: how raw columns become the numeric features every model was trained on.

Fitted on the training split only (fill values, scaling, category lists), stored as JSON next
to the splits, and applied again by ``smlp transform`` to raw input with a header, so that
the model sees the same encoding at inference as at training.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field

from smlp.errors import SchemaMismatchError

MISSING = "__missing__"
MAX_CATEGORIES = 50


class NumericFeature(BaseModel):
    kind: Literal["numeric"] = "numeric"
    name: str
    fill: float
    mean: float = 0.0
    scale: float = 1.0

    @property
    def encoded_names(self) -> list[str]:
        return [self.name]


class CategoricalFeature(BaseModel):
    """One-hot encoded; a value not seen in training (or beyond the top categories) is all 0."""

    kind: Literal["categorical"] = "categorical"
    name: str
    categories: list[str]

    @property
    def encoded_names(self) -> list[str]:
        return [f"{self.name}={value}" for value in self.categories]


Feature = Annotated[Union[NumericFeature, CategoricalFeature], Field(discriminator="kind")]


class Schema(BaseModel):
    schema_version: int = 1
    target: str
    id_column: str | None = None
    standardize: bool = True
    features: list[Feature]
    # Classification: the original labels in code order (code i is classes[i]). Left out of a
    # regression schema's JSON, whose bytes (and so its data version) stay as they were.
    problem_type: Literal["regression", "binary", "multiclass"] = "regression"
    classes: list[str] = []
    # How numeric fill values were computed: "median" (exact, over every training value), or
    # what a streamed prepare used instead (smlp.data.stream.sampled_median). Left out of the
    # JSON when exact, so schemas (and data versions) written before it stay byte-identical.
    fill_method: str = "median"

    def to_json(self) -> str:
        classification = {"problem_type", "classes"} if self.problem_type == "regression" else set()
        exact = {"fill_method"} if self.fill_method == "median" else set()
        return self.model_dump_json(indent=2, exclude=classification | exact)

    @property
    def encoded_names(self) -> list[str]:
        return [name for feature in self.features for name in feature.encoded_names]

    @property
    def n_features(self) -> int:
        return len(self.encoded_names)

    def column_types(self) -> dict[str, Any]:
        """Arrow types to read raw columns with, so a bad numeric value fails at parse time."""
        import pyarrow as pa

        return {
            f.name: pa.float64() if f.kind == "numeric" else pa.string() for f in self.features
        }

    def column_kinds(self) -> dict[str, str]:
        """``column_types`` by name (``float64``, ``string``), for a reader without pyarrow."""
        return {f.name: "float64" if f.kind == "numeric" else "string" for f in self.features}

    def encode(self, batch: Any, source: str = "input",
               unseen: dict[str, dict[str | None, int]] | None = None) -> Any:
        """Encode a pyarrow Table/RecordBatch of raw columns into a float32 feature matrix.

        With ``unseen``, add to it per column the categories no training row had (or beyond
        the top ``MAX_CATEGORIES``), which encode as all zeros: transform reports them.
        """
        return self._encode(set(batch.schema.names), batch.num_rows, batch.column, source,
                            unseen)

    def encode_rows(self, columns: dict[str, list[Any]], rows: int, source: str = "input",
                    unseen: dict[str, dict[str | None, int]] | None = None) -> Any:
        """``encode`` for a few rows read in Python (smlp.batch.few_rows), the same matrix and
        counts: numeric columns as floats (NaN: missing), text columns as str or None."""
        return self._encode(set(columns), rows, columns.__getitem__, source, unseen)

    def _encode(self, names: set[str], rows: int, column_of: Any, source: str,
                unseen: dict[str, dict[str | None, int]] | None) -> Any:
        import numpy as np

        missing = [f.name for f in self.features if f.name not in names]
        if missing:
            raise SchemaMismatchError(
                f"{source}: missing column(s) {', '.join(missing)}; the schema expects "
                + ", ".join(f.name for f in self.features)
            )
        out = np.empty((rows, self.n_features), dtype=np.float32)
        position = 0
        for feature in self.features:
            column = column_of(feature.name)
            if isinstance(feature, NumericFeature):
                out[:, position] = _numeric(column, feature, source)
                position += 1
            else:
                width = len(feature.categories)
                counts = None if unseen is None else unseen.get(feature.name, {})
                out[:, position:position + width] = _one_hot(column, feature.categories, counts)
                if unseen is not None and counts:
                    unseen[feature.name] = counts
                position += width
        return out


def _numeric(column: Any, feature: NumericFeature, source: str) -> Any:
    import numpy as np

    values = _float64(column)
    if values is None:
        import pyarrow.compute as pc  # ~75 ms to import: only for columns read as text

        values = _cast_float64(column, feature, source, pc)
    if np.isinf(values).any():
        raise SchemaMismatchError(f"{source}: column {feature.name}: an infinite value; "
                                  "expected a number or an empty cell")
    values = np.where(np.isnan(values), feature.fill, values)
    return (values - feature.mean) / feature.scale


def _float64(column: Any) -> Any:
    """A float, or null-free integer, column as float64 values without ``pyarrow.compute``;
    None otherwise, or when an integer is past 2**53 (where Arrow's cast refuses it). A list
    (``encode_rows``) holds floats already."""
    import numpy as np

    if isinstance(column, list):
        return np.array(column, dtype=np.float64)
    import pyarrow as pa

    from smlp.arrays import to_numpy

    if pa.types.is_floating(column.type) and column.type != pa.float16():
        return to_numpy(column).astype(np.float64)
    if pa.types.is_integer(column.type) and not column.null_count:
        values = to_numpy(column)
        if values.size and (int(values.max()) > 2 ** 53 or int(values.min()) < -(2 ** 53)):
            return None
        return values.astype(np.float64)
    return None


def _cast_float64(column: Any, feature: NumericFeature, source: str, pc: Any) -> Any:
    import pyarrow as pa

    from smlp.arrays import to_numpy

    if not pa.types.is_floating(column.type) and not pa.types.is_integer(column.type):
        try:
            column = pc.cast(column, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = _first_non_numeric(column)
            raise SchemaMismatchError(
                f"{source}: column {feature.name}: expected a number, got {bad!r}"
            ) from None
    return to_numpy(pc.cast(column, pa.float64()))


_QUICK_ONE_HOT_ROWS = 1024  # up to this, a text column one-hot encodes in Python


def _one_hot(column: Any, categories: list[str],
             unseen: dict[str | None, int] | None = None) -> Any:
    if isinstance(column, list):  # ``encode_rows``: text already in Python
        return _one_hot_quick(column, categories, unseen)
    import numpy as np
    import pyarrow as pa

    if pa.types.is_string(column.type) and len(column) <= _QUICK_ONE_HOT_ROWS:
        return _one_hot_quick(column.to_pylist(), categories, unseen)
    import pyarrow.compute as pc  # ~75 ms to import: a few rows' transform goes without

    from smlp import arrays

    text = pc.fill_null(pc.cast(column, pa.string()), arrays.text(MISSING))
    index = pc.index_in(text, value_set=arrays.strings(categories))
    positions = arrays.to_numpy(pc.fill_null(index, pa.array(np.array([-1], np.int32))[0]))
    encoded = np.zeros((len(positions), len(categories)), dtype=np.float32)
    known = positions >= 0
    encoded[np.nonzero(known)[0], positions[known]] = 1.0
    if unseen is not None and not known.all():
        for item in pc.value_counts(text.filter(pa.array(~known))).to_pylist():
            value = None if item["values"] == MISSING else item["values"]
            unseen[value] = unseen.get(value, 0) + item["counts"]
    return encoded


def _one_hot_quick(values: list[str | None], categories: list[str],
                   unseen: dict[str | None, int] | None) -> Any:
    """``_one_hot`` for a few text cells, the same matrix and unseen counts."""
    import numpy as np

    index = {category: i for i, category in reversed(list(enumerate(categories)))}
    encoded = np.zeros((len(values), len(categories)), dtype=np.float32)
    for row, value in enumerate(values):
        text = MISSING if value is None else value
        position = index.get(text)
        if position is not None:
            encoded[row, position] = 1.0
        elif unseen is not None:
            key = None if text == MISSING else text
            unseen[key] = unseen.get(key, 0) + 1
    return encoded


def _first_non_numeric(column: Any) -> str:
    for value in column.to_pylist():
        if value is None:
            continue
        try:
            float(value)
        except (TypeError, ValueError):
            return str(value)
    return "?"


def fit_schema(table: Any, target: str, id_column: str | None, standardize: bool,
               source: str) -> Schema:
    """Fit fill values, scaling and categories on the (training) table's feature columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    features: list[NumericFeature | CategoricalFeature] = []
    for name in table.schema.names:
        if name in {target, id_column}:
            continue
        column = table.column(name)
        if _is_numeric(column.type):
            values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
            values = values[~np.isnan(values)]
            if values.size == 0:
                raise _all_missing(source, name)
            fill = float(np.median(values))
            mean = float(values.mean()) if standardize else 0.0
            std = float(values.std()) if standardize else 1.0
            features.append(
                NumericFeature(name=name, fill=fill, mean=mean, scale=std if std > 0 else 1.0)
            )
        else:
            text = pc.fill_null(pc.cast(column, pa.string()), MISSING)
            counts = pc.value_counts(text).to_pylist()
            counts.sort(key=lambda item: (-item["counts"], item["values"]))
            categories = [item["values"] for item in counts[:MAX_CATEGORIES]]
            features.append(CategoricalFeature(name=name, categories=categories))
    if not features:
        raise SchemaMismatchError(f"{source}: no feature columns besides the target and ID")
    return Schema(target=target, id_column=id_column, standardize=standardize, features=features)


def _is_numeric(arrow_type: Any) -> bool:
    import pyarrow as pa

    return (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
            or pa.types.is_decimal(arrow_type) or pa.types.is_null(arrow_type))


def _all_missing(source: str, name: str) -> Exception:
    from smlp.errors import DataError

    return DataError(f"{source}: column {name!r} is all missing; drop it or fill it in")


def load_schema(store: Any, data: Any) -> Schema:
    """The schema ``data`` (a manifest DataRecord) recorded, read through ``store`` and checked
    against the manifest's sha256: every stage that encodes rows or needs the classes."""
    from smlp.errors import IntegrityError
    from smlp.fileio import sha256_bytes

    raw = store.read_bytes(store.key(data.schema_.uri))
    if sha256_bytes(raw) != data.schema_.sha256:
        raise IntegrityError(f"{data.schema_.uri}: sha256 does not match the manifest; the "
                             "schema was changed after `smlp data` wrote it")
    try:
        return Schema.model_validate_json(raw)
    except ValueError as exc:
        raise IntegrityError(f"{data.schema_.uri}: unreadable schema ({exc})") from None
