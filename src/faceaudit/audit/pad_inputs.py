"""The PAD audit's input: a vendor's presentation-attack-detection scores, one row per
presentation (``faceaudit audit --pad-scores P.csv``).

Columns: ``score`` (any real number), ``presentation`` (``bona_fide``, or the name of the
presentation attack instrument species: ``print``, ``replay``, ``mask``…), ``group`` and
``subject`` (the person presenting, or impersonated by the attack: the unit the bootstrap
resamples); optionally ``comparison_score`` (for attack rows: the attack's comparison score
against the impersonated subject's enrolled template, for IAPMR). Every malformed input raises
:class:`~faceaudit.audit.inputs.AuditInputError` (exit 2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from faceaudit.audit.inputs import AuditInputError, read_table, row_label, score_column

#: the ``presentation`` value of a bona fide (genuine, live) presentation
BONA_FIDE = "bona_fide"
_BONA_FIDE_SPELLINGS = {"bona_fide", "bona fide", "bona-fide", "bonafide"}
#: values that look like a label for bona fide or attack without saying which species: refused
#: rather than read as a species name (a table writing ``live`` for bona fide presentations
#: would otherwise audit every live presentation as an attack)
AMBIGUOUS = frozenset({"live", "real", "genuine", "true", "false", "yes", "no", "bf",
                       "liveness", "human", "authentic", "valid", "none", "null", "nan"})
#: words that say "an attack" without naming its instrument species: refused unless declared
#: with ``--pai-species`` (ISO/IEC 30107-3 reports APCER per species; a catch-all label hides
#: which instrument gets through)
GENERIC = frozenset({"attack", "attacks", "spoof", "spoofing", "fake", "impostor", "pa", "pai",
                     "presentation_attack", "presentation attack", "unknown", "other", "n/a",
                     "na", "invalid", "missing"})
_SPECIES = re.compile(r"^[A-Za-z][A-Za-z0-9 _.+/-]*$")

REQUIRED = ("score", "presentation", "group", "subject")
COMPARISON = "comparison_score"


@dataclass(frozen=True)
class PadTable:
    """One row per presentation, as read (scores on the input's own scale).

    ``species`` is ``None`` for a bona fide row; ``comparison`` holds NaN where a row has no
    comparison score (``None``: the table has no such column).
    """

    score: np.ndarray
    species: Sequence[str | None] | np.ndarray  # a list, or an object array
    group: Sequence[str] | np.ndarray
    subject: Sequence[str] | np.ndarray
    comparison: np.ndarray | None

    @property
    def attack(self) -> np.ndarray:
        """``(N,)`` whether each row is an attack presentation."""
        return is_attack(self.species)


def is_attack(species: Sequence[str | None] | np.ndarray) -> np.ndarray:
    """``(N,)`` whether each row names a species (is an attack presentation)."""
    named = np.asarray(species, dtype=object)
    return np.fromiter((s is not None for s in named), dtype=bool, count=len(named))


def _label_column(table: pa.Table, name: str, path: Path) -> pa.ChunkedArray:
    """A label column as trimmed Arrow strings; an empty or missing label names its row."""
    column = pc.utf8_trim_whitespace(table.column(name).cast(pa.string()))
    empty = pc.or_kleene(pc.is_null(column), pc.equal(column, ""))
    if pc.any(empty).as_py():
        i = int(np.flatnonzero(empty.to_numpy(zero_copy_only=False))[0])
        raise AuditInputError(f"{path}: {row_label(path, i)}: empty {name!r}")
    return column


def _labels(table: pa.Table, name: str, path: Path) -> np.ndarray:
    """A label column as an object array of trimmed strings (columnar: no per-row Python)."""
    return np.asarray(_label_column(table, name, path).to_numpy(zero_copy_only=False),
                      dtype=object)


def _species(table: pa.Table, path: Path, known: Sequence[str] | None) -> np.ndarray:
    """The ``presentation`` column as species names (``None`` for bona fide), each distinct
    value checked once (:func:`presentation_species`)."""
    encoded = _label_column(table, "presentation", path).combine_chunks().dictionary_encode()
    values = encoded.dictionary.to_pylist()
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    mapped: list[str | None] = []
    for code, value in enumerate(values):
        try:
            mapped.append(presentation_species(str(value), known))
        except ValueError as exc:
            i = int(np.flatnonzero(indices == code)[0])
            raise AuditInputError(f"{path}: {row_label(path, i)}: presentation {exc}") from None
    return np.asarray(mapped + [None], dtype=object)[indices]


def presentation_species(value: str, known: Sequence[str] | None = None) -> str | None:
    """The species a ``presentation`` value names (``None``: bona fide), or
    :class:`ValueError` saying why it is not a presentation value: an ambiguous word
    (:data:`AMBIGUOUS`), a catch-all word naming no species (:data:`GENERIC`, unless
    declared), a number, or — when ``known`` species are declared — one not among them."""
    text = value.strip()
    if text.lower() in _BONA_FIDE_SPELLINGS:
        return None
    if text.lower() in AMBIGUOUS:
        raise ValueError(f"{text!r} is ambiguous: write {BONA_FIDE!r} for a bona fide "
                         "presentation, or the attack instrument species (print, replay, mask…)")
    if known is None and text.lower() in GENERIC:
        raise ValueError(f"{text!r} names no attack instrument species: write the species "
                         "(print, replay, mask…), or declare it with --pai-species")
    if not _SPECIES.match(text):
        raise ValueError(f"{text!r} is not {BONA_FIDE!r} nor a species name (a name starting "
                         "with a letter)")
    if known is not None and text not in known:
        raise ValueError(f"{text!r} is not {BONA_FIDE!r} nor a declared species "
                         f"({', '.join(known)})")
    return text


def _comparison(table: pa.Table, attack: np.ndarray, path: Path) -> np.ndarray | None:
    """The optional comparison score column: a number (or empty) on attack rows; bona fide
    rows' values are ignored."""
    if COMPARISON not in table.column_names:
        return None
    column = table.column(COMPARISON)
    try:  # the usual case, columnar: numbers, empty cells null
        fast = column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        fast = None
    if fast is not None:
        fast = np.where(attack, fast, np.nan)
        bad = np.flatnonzero(attack & np.isinf(fast))
        if bad.size:
            raise AuditInputError(
                f"{path}: {row_label(path, int(bad[0]))}: {COMPARISON} is not finite")
        return fast
    values = column.to_pylist()
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if not attack[i] or v is None or (isinstance(v, str) and not v.strip()):
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise AuditInputError(
                f"{path}: {row_label(path, i)}: {COMPARISON} {v!r} is not a number") from None
        if not np.isfinite(x):
            raise AuditInputError(f"{path}: {row_label(path, i)}: {COMPARISON} is not finite")
        out[i] = x
    return out


def read_pad_scores(path: Path, species: Sequence[str] | None = None) -> PadTable:
    """A PAD scores table (CSV, TSV or Parquet; columns in the module docstring).

    ``species``: the declared attack instrument species; a ``presentation`` value outside them
    (and ``bona_fide``) is an error. Needs bona fide and attack presentations.
    """
    path = Path(path)
    table = read_table(path)
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise AuditInputError(f"{path}: missing column(s) {', '.join(missing)} (a PAD scores "
                              f"table has {', '.join(REQUIRED)}[, {COMPARISON}])")
    if table.num_rows == 0:
        raise AuditInputError(f"{path}: no rows")
    score = score_column(table, "score", path)
    named = _species(table, path, species)
    attack = is_attack(named)
    if attack.all() or not attack.any():
        raise AuditInputError(f"{path}: a PAD audit needs both bona fide ({BONA_FIDE!r}) and "
                              "attack presentations")
    return PadTable(
        score=score,
        species=named,
        group=_labels(table, "group", path),
        subject=_labels(table, "subject", path),
        comparison=_comparison(table, attack, path),
    )
