"""Child process for the crash-safety test: enrol precomputed templates, report each success.

Usage: python enrol_worker.py HOME EMBEDDINGS.npy WORKER COUNT. Goes through
``Deployment.enrol_templates`` — the same policy check, store write and ledger append as
``Deployment.enrol`` — and prints ``OK <subject>`` (flushed) only after it returned.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from faceaudit.base.home import Home
from faceaudit.deployment.operations import Deployment


def main() -> None:
    home, embeddings_path, worker, count = sys.argv[1:5]
    embeddings = np.load(embeddings_path)
    deployment = Deployment(Home(Path(home)))
    for i in range(int(count)):
        subject = f"w{worker}-{i}"
        deployment.enrol_templates(
            actor=f"worker-{worker}", subject_id=subject, backend_id="dlib-resnet:1",
            embeddings=embeddings[i % len(embeddings)][None], basis="consent",
            evidence=f"form-{subject}", allow_duplicate=True,
        )
        print("OK", subject, flush=True)


if __name__ == "__main__":
    main()
