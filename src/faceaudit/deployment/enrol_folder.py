"""Bulk enrolment from a folder: one subject per sub-folder, a manifest CSV, all or nothing per
subject (``faceaudit gallery enrol-folder``).

Layout::

    DIR/
      manifest.csv          one row per subject (see MANIFEST_COLUMNS)
      subj-0001/ a.jpg b.jpg
      subj-0002/ c.png

Every image of a subject is read and embedded first; the subject is enrolled only when every
one of its images shows exactly one face. A subject with a bad image, no images or no (or a bad)
manifest row is not enrolled at all; the others are. Each enrolment goes through
:meth:`Deployment.enrol_embedded` — the policy check, consent rules, duplicate check, log-first
write and ``enrol`` ledger event of ``faceaudit gallery enrol`` — so a bulk enrolment is exactly
the sequence of single enrolments it stands for. A policy refusal other than a duplicate face
stops the run (it would refuse every subject after it).

Each image's outcome is written, as it is decided, to a JSON-lines result file: ``enrolled``,
``rejected`` (this image is bad: the reason), ``not-enrolled`` (the image was not the problem:
another image of the subject, the manifest row, or the policy was) or ``skipped`` (not an
image file, or not in a subject's sub-folder).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from faceaudit.base.errors import FaceAuditError
from faceaudit.deployment.operations import Deployment
from faceaudit.engine.embed_files import IMAGE_SUFFIXES
from faceaudit.gallery.errors import InvalidRequestError
from faceaudit.gallery.store import NewTemplate
from faceaudit.ledger.errors import LedgerTamperedError
from faceaudit.policy import PolicyRefusal

MANIFEST_NAME = "manifest.csv"
FOLDER_COLUMN = "folder"
SUBJECT_COLUMN = "subject_id"
NAME_COLUMN = "display_name"
EXPIRES_COLUMN = "expires"
#: column → meaning; the evidence column is named by the caller (``--evidence-column``)
MANIFEST_COLUMNS = {
    FOLDER_COLUMN: "required: the sub-folder holding the subject's images",
    SUBJECT_COLUMN: "optional: the subject id (default: the folder name)",
    NAME_COLUMN: "optional: display name",
    EXPIRES_COLUMN: "optional: consent expiry, ISO date (expires at 00:00 UTC)",
}
MAX_MANIFEST_BYTES = 64 * 2**20

Progress = Callable[[int, int, str], None]


class ManifestError(InvalidRequestError):
    """The folder or its manifest cannot be used (missing, unreadable, columns missing)."""

    code = "bad-manifest"


@dataclass(frozen=True)
class ManifestRow:
    """One subject as the manifest describes it."""

    line: int
    folder: str
    subject_id: str
    evidence: str
    display_name: str | None
    expires: str | None


@dataclass
class BulkSummary:
    """What a bulk enrolment did, per subject and per image outcome."""

    enrolled: list[str] = field(default_factory=list)
    not_enrolled: list[str] = field(default_factory=list)
    images: dict[str, int] = field(default_factory=lambda: {
        "enrolled": 0, "rejected": 0, "not-enrolled": 0, "skipped": 0})
    refused: str | None = None

    def as_dict(self, results: Path) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {"enrolled": len(self.enrolled), "not_enrolled": len(self.not_enrolled),
                "not_enrolled_subjects": self.not_enrolled, "images": self.images,
                "refused": self.refused, "results": str(results)}


def read_manifest(path: Path, evidence_column: str) -> dict[str, ManifestRow]:
    """The manifest's rows by folder name; :class:`ManifestError` when the file or its header
    cannot be used (rows with a bad value are the subject's problem, not the manifest's)."""
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ManifestError(f"manifest is larger than {MAX_MANIFEST_BYTES >> 20} MiB",
                                which=str(path))
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError("no manifest", which=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read the manifest: {exc}", which=str(path)) from None
    reader = csv.DictReader(text.splitlines())
    columns = reader.fieldnames or []
    for required in (FOLDER_COLUMN, evidence_column):
        if required not in columns:
            raise ManifestError(f"the manifest has no {required!r} column", which=str(path))
    rows: dict[str, ManifestRow] = {}
    try:
        for record in reader:
            folder = (record.get(FOLDER_COLUMN) or "").strip()
            if not folder:
                continue
            if folder in rows:
                raise ManifestError(f"folder {folder!r} is listed twice (lines "
                                    f"{rows[folder].line} and {reader.line_num})",
                                    which=str(path))
            rows[folder] = ManifestRow(
                line=reader.line_num, folder=folder,
                subject_id=(record.get(SUBJECT_COLUMN) or "").strip() or folder,
                evidence=(record.get(evidence_column) or "").strip(),
                display_name=(record.get(NAME_COLUMN) or "").strip() or None,
                expires=(record.get(EXPIRES_COLUMN) or "").strip() or None)
    except csv.Error as exc:
        raise ManifestError(f"the manifest is not valid CSV: {exc}", which=str(path)) from None
    return rows


def _expiry(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequestError(f"expires {value!r} is not an ISO date (YYYY-MM-DD)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _subject_folders(folder: Path, manifest: Path) -> tuple[list[Path], list[Path]]:
    """(sub-folders, loose files) of ``folder``, sorted; hidden entries ignored."""
    folders, loose = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            folders.append(entry)
        elif entry.resolve() != manifest.resolve():
            loose.append(entry)
    return folders, loose


def _images(subject: Path) -> tuple[list[Path], list[Path]]:
    """(image files, other files) of one subject's folder, sorted, recursively."""
    images: list[Path] = []
    other: list[Path] = []
    for entry in sorted(p for p in subject.rglob("*") if not p.is_dir()):
        if any(part.startswith(".") for part in entry.relative_to(subject).parts):
            continue
        (images if entry.suffix.lower() in IMAGE_SUFFIXES else other).append(entry)
    return images, other


class _Results:
    """The JSON-lines result file, one line per image, flushed per subject."""

    def __init__(self, out: IO[str], root: Path, summary: BulkSummary):
        self.out, self.root, self.summary = out, root, summary

    def write(self, subject_id: str | None, image: Path | None, outcome: str, reason: str | None,
              template_id: int | None = None) -> None:
        line: dict[str, Any] = {
            "subject_id": subject_id,
            "image": None if image is None else str(image.relative_to(self.root)),
            "outcome": outcome, "reason": reason}
        if template_id is not None:
            line["template_id"] = template_id
        self.out.write(json.dumps(line) + "\n")
        if image is not None:
            self.summary.images[outcome] += 1

    def flush(self) -> None:
        self.out.flush()


def enrol_folder(
    deployment: Deployment,
    folder: Path,
    *,
    actor: str,
    basis: str,
    evidence_column: str,
    results: Path,
    manifest: Path | None = None,
    keep_images: bool = False,
    allow_duplicate: bool = False,
    progress: Progress | None = None,
) -> BulkSummary:
    """Enrol every sub-folder of ``folder`` as one subject, all or nothing per subject.

    ``manifest`` defaults to ``folder/manifest.csv``. Each image's outcome goes to
    ``results`` (JSON lines). ``progress(done, total, subject_id)`` is called per image.
    Raises :class:`ManifestError` (nothing done) for a missing folder or unusable manifest.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ManifestError("not a folder", which=str(folder))
    manifest = manifest or folder / MANIFEST_NAME
    rows = read_manifest(manifest, evidence_column)
    subjects, loose = _subject_folders(folder, manifest)
    work = [(path, *_images(path)) for path in subjects]
    total = sum(len(images) for _, images, _ in work)
    done = 0
    summary = BulkSummary()
    report = progress or (lambda done, total, subject: None)
    results.parent.mkdir(parents=True, exist_ok=True)
    with open(results, "w", encoding="utf-8") as out, deployment.searcher.deferred_saves():
        log = _Results(out, folder, summary)
        for path in loose:
            log.write(None, path, "skipped", "not in a subject's sub-folder")
        for name in sorted(set(rows) - {p.name for p in subjects}):
            unmatched = rows[name]
            log.write(unmatched.subject_id, None, "not-enrolled",
                      f"manifest line {unmatched.line}: no sub-folder {name!r}")
            summary.not_enrolled.append(unmatched.subject_id)
        for path, images, other in work:
            row = rows.get(path.name)
            subject_id = row.subject_id if row else path.name
            for extra in other:
                log.write(subject_id, extra, "skipped", f"not an image file ({extra.suffix!r})")
            if summary.refused is not None:
                _not_enrolled(log, summary, subject_id, images,
                              f"not attempted: {summary.refused}")
            elif row is None:
                _not_enrolled(log, summary, subject_id, images,
                              f"no manifest row for folder {path.name!r}")
            elif not images:
                _not_enrolled(log, summary, subject_id, [], "no image files in the folder")
            else:
                for i in _enrol_subject(deployment, log, summary, row, images, actor=actor,
                                        basis=basis, keep_images=keep_images,
                                        allow_duplicate=allow_duplicate):
                    report(done + i, total, subject_id)
            done += len(images)
            report(done, total, subject_id)
            log.flush()
    return summary


def _not_enrolled(log: _Results, summary: BulkSummary, subject_id: str, images: list[Path],
                  reason: str) -> None:
    summary.not_enrolled.append(subject_id)
    if not images:
        log.write(subject_id, None, "not-enrolled", reason)
    for image in images:
        log.write(subject_id, image, "not-enrolled", reason)


def _enrol_subject(
    deployment: Deployment, log: _Results, summary: BulkSummary, row: ManifestRow,
    images: list[Path], *, actor: str, basis: str, keep_images: bool, allow_duplicate: bool,
) -> Iterator[int]:
    """Embed every image of one subject, then enrol all of them or none; yields images done."""
    made: list[tuple[Path, NewTemplate, bytes]] = []
    rejected: dict[Path, str] = {}
    for i, image in enumerate(images, start=1):
        try:
            template, data = deployment.enrolment_template(image, str(image))
            made.append((image, template, data))
        except LedgerTamperedError:
            raise
        except FaceAuditError as exc:
            rejected[image] = str(exc)
        yield i
    if rejected:
        reason = (f"subject not enrolled: {len(rejected)} of {len(images)} images rejected "
                  "(all or nothing per subject)")
        summary.not_enrolled.append(row.subject_id)
        for image in images:
            if image in rejected:
                log.write(row.subject_id, image, "rejected", rejected[image])
            else:
                log.write(row.subject_id, image, "not-enrolled", reason)
        return
    try:
        enrolled = deployment.enrol_embedded(
            actor=actor, subject_id=row.subject_id, templates=[t for _, t, _ in made],
            basis=basis, evidence=row.evidence, expires_at=_expiry(row.expires),
            display_name=row.display_name,
            kept_images=[d for _, _, d in made] if keep_images else [],
            allow_duplicate=allow_duplicate)
    except LedgerTamperedError:
        raise
    except PolicyRefusal as exc:
        if exc.rule != "duplicate-face":
            summary.refused = str(exc)
        _not_enrolled(log, summary, row.subject_id, images, f"refused: {exc}")
        return
    except FaceAuditError as exc:
        _not_enrolled(log, summary, row.subject_id, images,
                      f"manifest line {row.line}: {exc}")
        return
    summary.enrolled.append(row.subject_id)
    for (image, _, _), template_id in zip(made, enrolled["template_ids"], strict=True):
        log.write(row.subject_id, image, "enrolled", None, template_id)
