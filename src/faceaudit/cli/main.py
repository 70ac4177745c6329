"""The ``faceaudit`` command line: the only CLI entry point.

Exit codes (a public contract, see README): 0 success / match, 1 no match (verify),
2 bad input (one line on stderr, never a traceback), 3 audit gate violated,
4 ledger tampered, 5 refused by the deployment policy, 6 ``embed``: some inputs refused (the
table holds the rest; ``--skip-bad`` gives 0).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from faceaudit.cli.grammar import error_line
from faceaudit.cli.lazy import LazyCommandGroup
from faceaudit.cli.options import (
    EXIT_INPUTS_REFUSED,
    EXIT_NO_MATCH,
    ClusterOption,
    cluster_client,
)
from faceaudit.cli.output import JsonOption, emit

app = typer.Typer(
    name="faceaudit",
    help="Face recognition that can be held to account: engine, bias audit, ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    cls=LazyCommandGroup,  # pillar sub-commands are imported only when run
)


def _print_version(value: bool) -> None:
    if value:
        from faceaudit import __version__

        sys.stdout.write(f"faceaudit {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Face recognition that can be held to account: engine, bias audit, ledger."""


BackendOpt = Annotated[
    str, typer.Option("--backend", help="dlib-resnet (default), dlib-native, or onnx")
]
ModelOpt = Annotated[
    Path | None, typer.Option("--model", help="ArcFace-style .onnx file (onnx backend)")
]
DetectorOpt = Annotated[
    str, typer.Option("--detector", help="hog (default), cnn, or centerface")
]
UpsampleOpt = Annotated[
    int | None,
    typer.Option(help="Upsample 0–3 times to find small faces (default: 0, then 1 for an image"
                      " where no face is found)"),
]


def _box_text(box: dict[str, int]) -> str:
    return ", ".join(f"{side} {value}" for side, value in box.items())  # left, top, …


def _quality_text(quality: dict | None) -> str:
    """A face's headline quality components (all of them: --json; docs/quality.md)."""
    if not quality:
        return ""
    return (f"; eyes {quality['inter_eye_distance_px']:g} px apart, yaw {quality['yaw_deg']:g}°, "
            f"roll {quality['roll_deg']:g}°, sharpness {quality['sharpness']:.3g}")


def _faces_view(data: dict) -> str:
    image, faces = data["image"], data["faces"]
    lines = [f"{len(faces)} face{'s' if len(faces) != 1 else ''} in the {image['width']}x"
             f"{image['height']} {image['format']} image (faces under "
             f"{data['limits']['min_face_px']} px cannot be found at this size)"]
    lines += [f"  face {i}: {_box_text(face['box'])}; score {face['score']:.3g}"
              + _quality_text(face.get("quality"))
              for i, face in enumerate(faces, 1)]
    return "\n".join(lines)


def _embed_view(summary: dict) -> str:
    refused = summary["refused"]
    text = (f"{summary['images']} images embedded into {summary['out']}: {summary['faces']} faces"
            f" ({summary['from_cache']} images from the cache); no face in "
            f"{summary['no_face']['count']}; refused {refused['count']}")
    if refused["count"]:
        text += " (" + ", ".join(f"{k}: {v}" for k, v in refused["by_reason"].items()) + ")"
    return text


def _verify_view(result: dict) -> str:
    rule = ">=" if result["match"] else "<"
    verdict = "match" if result["match"] else "no match"
    return (f"{verdict}: score {result['score']:.4f} {rule} threshold {result['threshold']:.4f}"
            f" (target FMR {result['fmr_target']:g}, {result.get('backend_id', '?')})")


@app.command()
def detect(
    image: Annotated[
        Path, typer.Argument(help="Image file (JPEG, PNG, GIF, BMP, TIFF, WebP, PPM)")
    ],
    detector: DetectorOpt = "hog",
    upsample: UpsampleOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Print the faces in IMAGE: boxes, scores, 5 landmarks and quality components (--json), and
    the detection limits.

    Each face's ``quality`` holds the image quality components of docs/quality.md.
    ``limits.min_face_px`` is the smallest face (in the image's pixels) the detector could find
    within its work budget; smaller faces are not reported.
    """
    from faceaudit.engine import api

    decoded = api.open_image(image)
    faces, limits = api.detect_in(decoded, detector=detector, upsample=upsample)
    width, height = decoded.original_size
    emit({
        "image": {"width": width, "height": height, "format": decoded.format},
        "faces": [face.to_dict() | {"quality": quality} for face, quality
                  in zip(faces, api.probe_quality(decoded, faces), strict=True)],
        "limits": limits.to_dict(),
    }, as_json, _faces_view)


@app.command()
def embed(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="A folder with one sub-folder per identity, or image files/folders"),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file to write")],
    backend: BackendOpt = "dlib-resnet",
    model: ModelOpt = None,
    detector: DetectorOpt = "hog",
    upsample: UpsampleOpt = None,
    no_face: Annotated[
        str, typer.Option(help="Images with no face: skip (report them) or centre (centre crop)")
    ] = "skip",
    workers: Annotated[int | None, typer.Option(help="Processes (default: every core)")] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Exit 0 even when some inputs were refused")
    ] = False,
    cluster: ClusterOption = None,
    as_json: JsonOption = False,
) -> None:
    """Embed images into a Parquet table (path, identity, face_index, box, det_score, embedding).

    A single folder whose sub-folders are identities is a labelled dataset: one (primary) face
    per image. Otherwise every face of every image is kept. Results are cached, so a rerun does
    no model work. With ``--cluster`` the images are read and embedded on a Dask
    cluster's workers, which must see them at the same absolute paths (docs/scaling.md). Inputs
    that cannot be used (unreadable, special files, corrupt images) are
    skipped and listed per reason in ``refused``; the command then exits 6 unless
    ``--skip-bad``.
    """
    import pyarrow.parquet as pq

    from faceaudit.base.errors import InputDataError
    from faceaudit.engine.embed_files import (
        IMAGE_SUFFIXES,
        EmbedSettings,
        embed_paths,
        list_dataset,
    )

    if not out.parent.is_dir():
        raise InputDataError(f"cannot write {out}: folder {out.parent} does not exist")
    labelled = len(inputs) == 1 and inputs[0].is_dir() and any(
        p.is_dir() for p in inputs[0].iterdir()
    )
    root: Path | None
    if labelled:
        root = inputs[0]
        paths, identities = list_dataset(root)
    else:
        root, identities, paths = None, None, []
        for item in inputs:
            if item.is_dir():
                paths += sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            elif item.exists() or item.is_symlink():  # a broken link is refused, and counted
                paths.append(item)
            else:
                raise InputDataError(f"{item}: no such file or folder")
    settings = EmbedSettings(
        backend, str(model) if model else None, detector, upsample, no_face, labelled
    )
    with cluster_client(cluster) as client:
        table, run = embed_paths(
            paths, identities, settings, root=root, workers=workers, client=client
        )
    pq.write_table(table, out)
    summary = {
        "out": str(out),
        "images": run.n_images,
        "faces": table.num_rows,
        "from_cache": run.n_cached,
        "no_face": {"count": len(run.no_face), "images": run.no_face},
        "refused": {
            "count": len(run.errors),
            "by_reason": run.refused_by_reason(),
            "messages": run.errors,
        },
    }
    emit(summary, as_json, _embed_view)
    if run.errors and not skip_bad:
        reasons = ", ".join(f"{code}: {len(v)}" for code, v in run.refused_by_reason().items())
        typer.echo(error_line(
            f"{len(run.errors)} of {run.n_images} inputs refused ({reasons}); the table holds"
            " the rest (--skip-bad to exit 0)", str(out)), err=True)
        raise typer.Exit(EXIT_INPUTS_REFUSED)


@app.command()
def verify(
    image_a: Annotated[Path, typer.Argument(help="First image")],
    image_b: Annotated[Path, typer.Argument(help="Second image")],
    fmr: Annotated[float, typer.Option(help="Target false-match rate of the threshold")] = 1e-3,
    calibration: Annotated[
        Path | None, typer.Option(help="Calibration JSON (default: the one shipped)")
    ] = None,
    backend: BackendOpt = "dlib-resnet",
    model: ModelOpt = None,
    face: Annotated[int | None, typer.Option(
        "--face-a", "--face", min=0, metavar="N",
        help="Which face of the first image, when it has several (0 = best score; REST: "
             "face_a; --face: the old name, accepted through 0.2)")] = None,
    face_b: Annotated[int | None, typer.Option(
        "--face-b", min=0, metavar="N",
        help="Which face of the second image, when it has several (0 = best score)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Compare the face of two images. Exit 0 on a match, 1 on no match, 2 on bad input.

    An image with several faces is refused (exit 2, naming the file and the count) unless
    --face-a (first image) or --face-b (second image) picks one.
    """
    from faceaudit.engine import api

    embedder = api.get_embedder(backend, model)
    cal = api.load_calibration(calibration, backend_id=embedder.backend_id)
    try:
        result = api.verify(image_a, image_b, fmr=fmr, calibration=cal, embedder=embedder,
                            face_a=face, face_b=face_b)
    except api.SeveralFacesError as exc:  # name the CLI's flag, not the library's keyword
        raise exc.asking_for("--face-b N" if exc.pick == "face_b" else "--face-a N") from None
    except api.FaceIndexError as exc:
        flag = "--face-b" if exc.pick == "face_b" else "--face-a"
        raise api.FaceIndexError(exc.label, exc.pick, exc.index, exc.count,
                                 f"{flag} {exc.index}") from None
    emit(result.to_dict(), as_json, _verify_view)
    raise typer.Exit(0 if result.match else EXIT_NO_MATCH)


def main() -> None:
    """Console-script entry: run the app; errors are one stderr line (faceaudit.cli.grammar)."""
    app(prog_name="faceaudit")

if __name__ == "__main__":
    main()
