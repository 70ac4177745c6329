"""Redaction inside a deployment: ``--keep`` (leave consented subjects visible) and the record.

Leaving someone visible means recognising them in the footage, so ``--keep`` is treated as an
identification: the deployment's policy must allow ``identify`` for this actor, purpose and
case, with a passing registered audit of the backend (a refusal is logged and exits 5); each
kept subject must be enrolled; a face is theirs only when its embedding scores at least the
threshold of the policy's ``fmr_target`` against their templates, and a track is kept only when
most of its detections (and at least two) are theirs. Every run with ``--home`` appends one
``redact`` event to the ledger: who, purpose, case, input and output SHA-256, counts and the
kept tracks — no images, no templates.

This sits above the pillars (it uses :class:`~faceaudit.deployment.operations.Deployment`); the
footage
pipeline only receives the matcher function.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from faceaudit.base.errors import InputDataError
from faceaudit.footage.detection import FrameDetections
from faceaudit.footage.pipeline import KeepMatcher

if TYPE_CHECKING:
    from faceaudit.deployment.operations import Deployment

MAX_LOGGED_TRACKS = 16


@dataclass
class KeepSession:
    """A deployment, the acting user and the subjects to keep, checked against the policy."""

    deployment: Deployment
    actor: str
    subjects: list[str]
    purpose: str | None
    case: str | None
    threshold: float | None = None
    templates: dict[str, np.ndarray] | None = None

    @classmethod
    def open(cls, home: Path | None, actor: str | None, subjects: list[str],
             purpose: str | None, case: str | None) -> KeepSession:
        """Open the deployment at ``home``; with ``subjects``, enforce the policy and load them.

        Raises :class:`InputDataError` for ``--keep`` without ``--home``, a missing home or an
        unknown subject; :class:`~faceaudit.policy.PolicyRefusal` when the policy refuses.
        """
        from faceaudit.base.actor import default_actor
        from faceaudit.base.home import resolve_home
        from faceaudit.deployment.operations import Deployment
        from faceaudit.gallery.store import check_subject_id
        from faceaudit.policy import enforce

        if subjects and home is None:
            raise InputDataError("--keep needs a deployment: give --home (a home made by "
                                 "faceaudit init) with --purpose and --case")
        deployment = Deployment(resolve_home(home).require())
        session = cls(deployment, default_actor(actor), list(subjects), purpose, case)
        if not subjects:
            return session
        for subject in subjects:
            check_subject_id(subject)
        policy = deployment.policy
        enforce(policy, deployment.ledger, deployment.home, operation="identify",
                actor=session.actor, purpose=purpose, case=case,
                backend_id=deployment.backend_id)
        session.threshold = deployment.calibration.threshold_for(policy.fmr_target)
        session.templates = {}
        for subject in subjects:
            found = deployment.store.subject_templates(subject)
            if found is None or len(found) == 0:
                raise InputDataError(f"--keep {subject}: no such enrolled subject")
            session.templates[subject] = np.asarray(found, np.float32)
        return session

    def matcher(self) -> KeepMatcher | None:
        """The function the pipeline calls per detected frame (None without ``--keep``)."""
        if not self.templates or self.threshold is None:
            return None
        from faceaudit.engine import api
        from faceaudit.engine.faces.box import Box
        from faceaudit.engine.faces.detect import Face, landmarks_for_box

        embedder = self.deployment.embedder
        templates_by_subject, threshold = self.templates, self.threshold

        def match(rgb: np.ndarray, found: FrameDetections) -> list[str | None]:
            height, width = rgb.shape[:2]
            faces = []
            for x1, y1, x2, y2 in found.boxes:
                box = Box(max(0, int(x1)), max(0, int(y1)), min(width - 1, int(x2)),
                          min(height - 1, int(y2)))
                faces.append(Face(box=box, score=1.0, landmarks=landmarks_for_box(rgb, box)))
            vectors = api.embed_faces(rgb, faces, embedder)
            names: list[str | None] = []
            for vector in vectors:
                best, best_score = None, threshold
                for subject, templates in templates_by_subject.items():
                    score = float(np.max(templates @ vector))
                    if score >= best_score:
                        best, best_score = subject, score
                names.append(best)
            return names

        return match

    def record(self, log: dict) -> None:
        """Append the run's ``redact`` event to the deployment's ledger."""
        summary = log["summary"]
        kept = log["kept"]
        self.deployment.ledger.append(
            self.actor, "redact", purpose=self.purpose, case=self.case,
            backend_id=self.deployment.backend_id if self.subjects else None,
            threshold=self.threshold,
            result={
                "kind": log["kind"],
                "input_sha256": log["input"]["sha256"],
                "output_sha256": log["output"]["sha256"],
                "frames": summary["frames"],
                "tracks": summary["tracks"],
                "boxes_redacted": summary["boxes_redacted"],
                "kept_subjects": sorted(self.subjects),
                "kept_tracks": kept[:MAX_LOGGED_TRACKS],
                "kept_tracks_total": len(kept),
            },
        )
