"""Readers for the audit's inputs: attribute files, LFW with its labels, pair lists, embeddings
Parquet, scores tables and rates tables. Every malformed input raises :class:`AuditInputError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from faceaudit.audit.errors import AuditInputError

GROUP_SEPARATOR = "|"


def read_table(path: Path) -> pa.Table:
    """A CSV (``.csv``/``.tsv``) or Parquet file as an Arrow table."""
    path = Path(path)
    if not path.is_file():
        raise AuditInputError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            return pq.read_table(path)
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        return pcsv.read_csv(path, parse_options=pcsv.ParseOptions(delimiter=delimiter))
    except (pa.ArrowInvalid, OSError) as exc:
        raise AuditInputError(f"{path}: not a readable table ({exc})") from None


def _require(table: pa.Table, columns: Sequence[str], path: Path | str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise AuditInputError(f"{path}: missing column(s) {', '.join(missing)}")


def _strings(column: pa.ChunkedArray) -> list[str | None]:
    values = column.cast(pa.string()).to_pylist()
    return [v.strip() if v is not None and v.strip() else None for v in values]


@dataclass
class Attributes:
    """Attribute labels keyed by identity or by image (relative path or file name)."""

    key: str  # "identity" or "image"
    labels: dict[str, dict[str, str | None]]
    names: list[str]

    def lookup(self, path: str, identity: str) -> dict[str, str | None]:
        """The labels of one image (empty dict when the image/identity is not listed)."""
        if self.key == "identity":
            return self.labels.get(identity, {})
        return self.labels.get(path) or self.labels.get(Path(path).name, {})


def read_attributes(path: Path) -> Attributes:
    """An attributes CSV/Parquet with an ``identity`` or ``image`` column and label columns."""
    table = read_table(path)
    key = next((k for k in ("identity", "image") if k in table.column_names), None)
    if key is None:
        raise AuditInputError(f"{path}: needs an 'identity' or an 'image' column")
    names = [c for c in table.column_names if c != key]
    if not names:
        raise AuditInputError(f"{path}: no attribute columns beside {key!r}")
    keys = _strings(table.column(key))
    columns = {n: _strings(table.column(n)) for n in names}
    labels = {}
    for i, k in enumerate(keys):
        if k is None:
            raise AuditInputError(f"{path}: row {i + 2} has an empty {key!r}")
        labels[k] = {n: columns[n][i] for n in names}
    return Attributes(key, labels, names)


@dataclass
class Grouping:
    """Group of every template: codes (-1 = a label is missing), group names, missing counts."""

    codes: np.ndarray
    names: list[str]
    missing: dict[str, int]


def group_templates(
    paths: Sequence[str], identities: Sequence[str], attributes: Attributes, by: Sequence[str]
) -> Grouping:
    """Combine the ``by`` attributes of every template into one group label."""
    unknown = [b for b in by if b not in attributes.names]
    if unknown:
        raise AuditInputError(
            f"no attribute {', '.join(map(repr, unknown))}; the attributes file has "
            f"{', '.join(attributes.names)}"
        )
    missing = dict.fromkeys(by, 0)
    labels: list[str | None] = []
    for path, identity in zip(paths, identities, strict=True):
        row = attributes.lookup(path, identity)
        values = [row.get(b) for b in by]
        for b, v in zip(by, values, strict=True):
            missing[b] += v is None
        present = [v for v in values if v is not None]
        labels.append(GROUP_SEPARATOR.join(present) if len(present) == len(values) else None)
    names = sorted({x for x in labels if x is not None})
    index = {n: i for i, n in enumerate(names)}
    codes = np.array([index[x] if x is not None else -1 for x in labels], dtype=np.intp)
    return Grouping(codes, names, missing)


def lfw_meta(lfw: Path) -> Path:
    """The ``lfw-meta`` folder beside an LFW folder."""
    return Path(lfw).resolve().parent / "lfw-meta"


def read_lfw_attributes(lfw: Path) -> Attributes:
    """``sex`` (from the gender name lists, per image) and ``race`` (per identity) for LFW.

    Images in both or neither name list get no ``sex``; identities absent from the race JSON
    get no ``race``; mixed labels (``"african,caucasian"``) are kept as written.
    """
    meta = lfw_meta(lfw)
    female, male = meta / "female_names.txt", meta / "male_names.txt"
    race_file = meta / "race_uscsail.json"
    for f in (female, male, race_file):
        if not f.is_file():
            raise AuditInputError(f"LFW labels not found: {f} (expected beside {lfw})")
    sex: dict[str, str | None] = {}
    for label, f in (("female", female), ("male", male)):
        for line in f.read_text().split():
            sex[line] = None if line in sex else label
    try:
        race = json.loads(race_file.read_text())
    except json.JSONDecodeError as exc:
        raise AuditInputError(f"{race_file}: not JSON ({exc})") from None
    labels = {}
    for person in sorted(p for p in Path(lfw).iterdir() if p.is_dir()):
        for image in sorted(person.iterdir()):
            labels[f"{person.name}/{image.name}"] = {
                "sex": sex.get(image.name),
                "race": race.get(person.name),
            }
    if not labels:
        raise AuditInputError(f"{lfw}: no images in identity sub-folders")
    return Attributes("image", labels, ["sex", "race"])


def read_pairs_txt(path: Path) -> list[tuple[str, int, str, int]]:
    """An LFW-style pair list: ``name n1 n2`` (genuine) or ``name1 n1 name2 n2`` (impostor).

    A first line of one or two integers (folds, pairs per fold) is skipped. Returns
    ``(name_a, number_a, name_b, number_b)`` tuples.
    """
    pairs = []
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts or (lineno == 1 and all(p.isdigit() for p in parts)):
            continue
        try:
            if len(parts) == 3:
                pairs.append((parts[0], int(parts[1]), parts[0], int(parts[2])))
            elif len(parts) == 4:
                pairs.append((parts[0], int(parts[1]), parts[2], int(parts[3])))
            else:
                raise ValueError
        except ValueError:
            raise AuditInputError(f"{path}:{lineno}: not a pair line: {line!r}") from None
    if not pairs:
        raise AuditInputError(f"{path}: no pairs")
    return pairs


def lfw_image_path(name: str, number: int) -> str:
    """Relative path of an LFW image: ``Name/Name_0001.jpg``."""
    return f"{name}/{name}_{number:04d}.jpg"


def read_pair_list(path: Path) -> list[tuple[str, str]]:
    """A pair list as (image_a, image_b) paths relative to the dataset root.

    ``.txt``: LFW's ``pairs.txt`` format (:func:`read_pairs_txt`); otherwise a CSV or Parquet
    table with ``image_a`` and ``image_b`` columns.
    """
    path = Path(path)
    if path.suffix.lower() == ".txt":
        try:
            return [
                (lfw_image_path(a, i), lfw_image_path(b, j)) for a, i, b, j in read_pairs_txt(path)
            ]
        except OSError as exc:
            raise AuditInputError(f"{path}: cannot read ({exc.strerror})") from None
    table = read_table(path)
    _require(table, ["image_a", "image_b"], path)
    pairs = list(zip(_strings(table.column("image_a")), _strings(table.column("image_b")),
                     strict=True))
    named = [(a, b) for a, b in pairs if a is not None and b is not None]
    if not pairs or len(named) < len(pairs):
        raise AuditInputError(f"{path}: pairs must name both images on every row")
    return named


@dataclass
class Embeddings:
    """Templates read from an embeddings Parquet: paths, identities, (N, d) unit rows."""

    paths: list[str]
    identities: list[str]
    matrix: np.ndarray
    backend_id: str | None
    no_face_paths: list[str]
    model_sha256: str | None = None
    #: per template, each image quality component (docs/quality.md) the table carries, keyed
    #: by component name (``quality_<component>`` columns of ``faceaudit embed``'s Parquet)
    quality: dict[str, np.ndarray] | None = None

    @property
    def no_face(self) -> int:
        """How many images gave no template (no face found)."""
        return len(self.no_face_paths)


def embeddings_from_table(table: pa.Table, source: str) -> Embeddings:
    """Templates from an Arrow table with ``path``, ``identity`` and ``embedding`` columns."""
    _require(table, ["path", "identity", "embedding"], source)
    # One template per image: `faceaudit embed` writes a labelled dataset's primary face only
    # (face_index is its detector index, -1 for a centre crop); a file with several faces per
    # image keeps the first row, the detector's best.
    _, first_rows = np.unique(np.asarray(_strings(table.column("path")), dtype=object),
                              return_index=True)
    if len(first_rows) < table.num_rows:
        table = table.take(pa.array(np.sort(first_rows)))
    if table.num_rows == 0:
        raise AuditInputError(f"{source}: no embeddings")
    column = table.column("embedding").combine_chunks()
    try:
        flat = pc.list_flatten(column).to_numpy(zero_copy_only=False)
        matrix = flat.astype(np.float32).reshape(table.num_rows, -1)
    except (ValueError, pa.ArrowInvalid):
        raise AuditInputError(f"{source}: 'embedding' must be equal-length float lists") from None
    if not np.all(np.isfinite(matrix)) or np.any(np.linalg.norm(matrix, axis=1) == 0):
        raise AuditInputError(f"{source}: embeddings must be finite and non-zero")
    meta = (table.schema.metadata or {}).get(b"faceaudit")
    info = json.loads(meta) if meta else {}
    paths, identities = _strings(table.column("path")), _strings(table.column("identity"))
    for name, values in (("path", paths), ("identity", identities)):
        if None in values:
            raise AuditInputError(
                f"{source}: {name!r} is empty on row {values.index(None) + 1}; an audit needs"
                " every template's image and identity (embed a folder of identity sub-folders)")
    return Embeddings(
        paths=[p for p in paths if p is not None],
        identities=[i for i in identities if i is not None],
        matrix=matrix,
        backend_id=info.get("backend_id"),
        no_face_paths=[str(p) for p in info.get("no_face", [])]
        if isinstance(info.get("no_face"), list)
        else [],
        model_sha256=info.get("model_sha256") if isinstance(info.get("model_sha256"), str)
        else None,
        quality=_quality_columns(table, source),
    )


#: the prefix of a faces table's quality columns (engine/embed_files.py's QUALITY_COLUMNS)
QUALITY_PREFIX = "quality_"


def _quality_columns(table: pa.Table, source: str) -> dict[str, np.ndarray] | None:
    """The ``quality_<component>`` columns as float64 arrays by component (None: none)."""
    out = {}
    for name in table.column_names:
        if not name.startswith(QUALITY_PREFIX):
            continue
        try:
            values = table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise AuditInputError(f"{source}: {name!r} must be numeric") from None
        out[name[len(QUALITY_PREFIX):]] = np.asarray(values, dtype=np.float64)
    return out or None


def read_embeddings(path: Path) -> Embeddings:
    """An embeddings Parquet as written by ``faceaudit embed``."""
    return embeddings_from_table(read_table(path), str(path))


Labels: TypeAlias = Sequence[str] | pa.ChunkedArray


@dataclass
class ScoresTable:
    """One row per comparison: score, genuine flag, groups and (optional) subjects.

    Label columns are lists of strings or (from :func:`read_scores`) Arrow string columns, which
    stay columnar: a table of 10⁸ rows never becomes 10⁸ Python strings.
    """

    score: np.ndarray
    genuine: np.ndarray
    group_a: Labels
    group_b: Labels
    subject_a: Labels | None
    subject_b: Labels | None


_TRUE = {"true", "1", "yes", "t", "y", "genuine"}
_FALSE = {"false", "0", "no", "f", "n", "impostor"}


def row_label(path: Path | str, index: int) -> str:
    """How a person finds data row ``index`` (0-based): its line in a CSV/TSV (the header is
    line 1), its row number (1-based) in Parquet."""
    if Path(path).suffix.lower() == ".parquet":
        return f"row {index + 1}"
    return f"line {index + 2}"


def _finite_scores(column: pa.ChunkedArray, path: Path) -> np.ndarray:
    """The score column as float64; a non-numeric, empty, NaN or infinite score is an error
    naming its row (any real number on any scale is accepted)."""
    try:
        score = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = column.to_pylist()
        for i, v in enumerate(values):
            try:
                float(v)
            except (TypeError, ValueError):
                raise AuditInputError(
                    f"{path}: {row_label(path, i)}: score {v!r} is not a number"
                ) from None
        raise AuditInputError(f"{path}: 'score' must be numeric") from None
    bad = np.flatnonzero(~np.isfinite(score))
    if bad.size:
        i = int(bad[0])
        what = "empty" if column[i].as_py() is None else f"{column[i].as_py()!r}, not finite"
        raise AuditInputError(
            f"{path}: {row_label(path, i)}: score is {what}"
            + (f" ({bad.size} such rows)" if bad.size > 1 else "")
        )
    return score


def score_column(table: pa.Table, name: str, path: Path) -> np.ndarray:
    """Column ``name`` of ``table`` as finite float64 scores; a non-numeric, empty, NaN or
    infinite value is an error naming its row (as ``read_scores`` reads ``score``)."""
    return _finite_scores(table.column(name), path)


def _labels(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A label column as trimmed strings."""
    return pc.utf8_trim_whitespace(column.cast(pa.string()))


def _first_empty(column: pa.ChunkedArray) -> int | None:
    """Index of the first null or empty label, or ``None``."""
    empty = pc.or_kleene(pc.is_null(column), pc.equal(column, ""))
    if not pc.any(empty).as_py():
        return None
    return int(np.flatnonzero(empty.to_numpy(zero_copy_only=False))[0])


def _genuine_flags(column: pa.ChunkedArray, path: Path) -> np.ndarray:
    """The genuine column as booleans (true/false, 1/0, yes/no, genuine/impostor, …)."""
    flags = pc.utf8_lower(_labels(column))
    true = pc.is_in(flags, value_set=pa.array(sorted(_TRUE))).to_numpy(zero_copy_only=False)
    false = pc.is_in(flags, value_set=pa.array(sorted(_FALSE))).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(~(true | false))
    if bad.size:
        i = int(bad[0])
        raise AuditInputError(
            f"{path}: {row_label(path, i)}: 'genuine' must be true/false, not "
            f"{column[i].as_py()!r}"
        )
    return true


def encode_labels(a: Labels, b: Labels) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sorted distinct labels of two columns and each row's code in them (columnar: Arrow
    dictionary encoding, no per-row Python work)."""
    cols = [
        x if isinstance(x, pa.ChunkedArray) else pa.chunked_array([pa.array(list(x), pa.string())])
        for x in (a, b)
    ]
    both = pa.chunked_array(cols[0].chunks + cols[1].chunks, type=pa.string())
    encoded = both.dictionary_encode()
    if encoded.num_chunks == 0:
        return [], np.empty(0, np.intp), np.empty(0, np.intp)
    names = np.asarray(encoded.chunk(0).dictionary.to_pylist(), dtype=object)
    indices = np.concatenate(
        [c.indices.to_numpy(zero_copy_only=False) for c in encoded.chunks]
    ).astype(np.intp)
    order = np.argsort(names, kind="stable")
    remap = np.empty(len(order), np.intp)
    remap[order] = np.arange(len(order))
    codes = remap[indices]
    n_a = len(cols[0])
    return [str(n) for n in names[order]], codes[:n_a], codes[n_a:]


def read_scores(path: Path) -> ScoresTable:
    """A scores table: ``score``, ``genuine``, ``group_a``, ``group_b`` and optionally
    ``subject_a``, ``subject_b`` (needed for identity-bootstrap intervals)."""
    table = read_table(path)
    _require(table, ["score", "genuine", "group_a", "group_b"], path)
    if table.num_rows == 0:
        raise AuditInputError(f"{path}: no rows")
    score = _finite_scores(table.column("score"), path)
    genuine = _genuine_flags(table.column("genuine"), path)
    subjects = all(c in table.column_names for c in ("subject_a", "subject_b"))
    names = ["group_a", "group_b"] + (["subject_a", "subject_b"] if subjects else [])
    columns = {}
    for name in names:
        columns[name] = _labels(table.column(name))
        empty = _first_empty(columns[name])
        if empty is not None:
            raise AuditInputError(f"{path}: {row_label(path, empty)}: empty {name!r}")
    return ScoresTable(
        score,
        genuine,
        columns["group_a"],
        columns["group_b"],
        columns.get("subject_a"),
        columns.get("subject_b"),
    )


@dataclass
class RatesTable:
    """Per-group rates: FMR/FNMR fractions and/or accuracy fractions, per target."""

    target_fmrs: list[float | None]
    groups: list[list[str]]
    fmr: list[np.ndarray | None]
    fnmr: list[np.ndarray | None]
    accuracy: list[np.ndarray | None]


def _floats(table: pa.Table, name: str, path: Path) -> np.ndarray | None:
    if name not in table.column_names:
        return None
    try:
        values = table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise AuditInputError(f"{path}: {name!r} must be numeric") from None
    if not np.isfinite(values).all() or (values < 0).any():
        raise AuditInputError(f"{path}: {name!r} must hold finite non-negative numbers")
    return values


def read_rates(path: Path) -> RatesTable:
    """A rates table: ``group`` and ``fmr``+``fnmr`` and/or ``accuracy`` [, ``target_fmr``].

    Accuracy is read as a percentage when any value exceeds 1 (RFW tables), else as a fraction.
    """
    table = read_table(path)
    _require(table, ["group"], path)
    fmr, fnmr = _floats(table, "fmr", path), _floats(table, "fnmr", path)
    acc = _floats(table, "accuracy", path)
    if (fmr is None) != (fnmr is None) or (fmr is None and acc is None):
        raise AuditInputError(f"{path}: needs 'fmr' and 'fnmr' columns, or 'accuracy'")
    for name, v in (("fmr", fmr), ("fnmr", fnmr)):
        if v is not None and (v > 1).any():
            raise AuditInputError(f"{path}: {name!r} values are fractions in [0, 1]")
    if acc is not None and (acc > 1).any():
        acc = acc / 100.0
    if acc is not None and (acc > 1).any():
        raise AuditInputError(f"{path}: 'accuracy' above 100 %")
    named = _strings(table.column("group"))
    groups = [g for g in named if g is not None]
    if len(groups) < len(named):
        raise AuditInputError(f"{path}: empty 'group' values")
    targets_col = _floats(table, "target_fmr", path)
    keys = [None] * len(groups) if targets_col is None else [float(t) for t in targets_col]
    out = RatesTable([], [], [], [], [])
    for key in dict.fromkeys(keys):
        rows = [i for i, k in enumerate(keys) if k == key]
        names = [groups[i] for i in rows]
        if len(set(names)) != len(names):
            raise AuditInputError(f"{path}: a group appears twice for the same target")
        if len(names) < 2:
            raise AuditInputError(f"{path}: fairness summaries need at least two groups")
        out.target_fmrs.append(key)
        out.groups.append(names)
        out.fmr.append(None if fmr is None else fmr[rows])
        out.fnmr.append(None if fnmr is None else fnmr[rows])
        out.accuracy.append(None if acc is None else acc[rows])
    return out
