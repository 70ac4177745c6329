"""report.html: self-contained, accessible, rendered only from the report dict, and clean in a
real headless Chromium (skipped with a reason where no Chromium binary exists)."""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from browser import open_in_chromium
from PIL import Image

from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.gate import parse_rule
from faceaudit.audit.html import ReportFormatError, write_html
from faceaudit.audit.inputs import read_attributes, read_embeddings, read_rates
from faceaudit.audit.run import audit_embeddings, audit_rates
from faceaudit.base.errors import FaceAuditError

SCHEMA = "faceaudit.audit/1"
_DASH = "—"  # what the report shows for a missing number (e.g. an unbounded interval end)
HEADINGS = (
    "Gate",
    "Warnings",
    "Summary",
    "Data",
    "Thresholds",
    "Error rates per group",
    "Fairness summaries",
    "DET curves",
    "Cross-group false match rates",
    "Score distributions",
)


# --- a small report in the faceaudit.audit/1 schema ---------------------------------------------


def _sf(x: np.ndarray) -> np.ndarray:
    """Gaussian survival function (no scipy needed)."""
    return 0.5 * np.array([math.erfc(v / math.sqrt(2)) for v in np.ravel(x)]).reshape(np.shape(x))


def _est(value: float | None, spread: float = 0.15, note: str | None = None) -> dict:
    if value is None:
        return {"value": None, "low": None, "high": None, "note": note}
    return {"value": value, "low": value * (1 - spread), "high": value * (1 + spread), "note": note}


def make_report(groups: tuple[str, ...] = ("female", "male"), *, rates_only: bool = False) -> dict:
    """A consistent report: impostor scores ~ N(mu_i, 0.1), genuine ~ N(0.85, 0.08) per group."""
    mu = {g: 0.10 + 0.05 * i for i, g in enumerate(groups)}
    targets = []
    for t, thr in ((1e-2, 0.40), (1e-3, 0.46), (1e-4, 0.52)):
        per = []
        for g in groups:
            fmr = float(_sf(np.array((thr - mu[g]) / 0.1)))
            fnmr = float(1 - _sf(np.array((thr - 0.85) / 0.08)))
            per.append(
                {
                    "group": g,
                    "supported": t >= 1e-3,
                    "fmr": _est(fmr) if t >= 1e-3 else _est(None, note="unsupported"),
                    "fnmr": _est(fnmr),
                    "accuracy": _est(1 - (fmr + fnmr) / 2, 0.001),
                    "group_threshold": thr + 0.01,
                    "fnmr_at_group_threshold": fnmr * 1.1,
                    "impostor_pairs": 9000,
                    "genuine_pairs": 400,
                }
            )
        fmrs = [p["fmr"]["value"] for p in per if p["fmr"]["value"] is not None]
        cross = [[math.sqrt(a * b) for b in fmrs] for a in fmrs] if fmrs else None
        targets.append(
            {
                "target_fmr": t,
                "threshold": thr if t >= 1e-3 else None,
                "supported": t >= 1e-3,
                "required_pairs": math.ceil(3 / t),
                "achieved_fmr": t * 0.97 if t >= 1e-3 else None,
                "groups": per,
                "cross_fmr": None
                if cross is None
                else {
                    "groups": list(groups),
                    "fmr": cross,
                    "low": cross,
                    "high": cross,
                    "impostor_pairs": [[9000] * len(groups)] * len(groups),
                    "supported": [[True] * len(groups)] * len(groups),
                },
                "summaries": {
                    "fmr_ratio": _est(max(fmrs) / min(fmrs))
                    if fmrs
                    else _est(None, note="no group supports this target"),
                    "fnmr_ratio": _est(1.0),
                    "inequity": _est(1.7),
                    "fdr": _est(0.98, 0.01),
                    "garbe": _est(0.2),
                    "ser": _est(1.4),
                    "std": _est(0.3),
                },
            }
        )
    edges = np.linspace(-0.3, 1.0, 53)
    centres = (edges[:-1] + edges[1:]) / 2
    report = {
        "schema": SCHEMA,
        "provenance": {
            "faceaudit_version": "0.1.0",
            "backend_id": "dlib-resnet:1",
            "input_kind": "rates" if rates_only else "embeddings",
            "input": "tests/synthetic.parquet",
            "attributes": "attrs.csv",
            "by": ["sex"],
            "protocol": "rates-table" if rates_only else "exhaustive",
            "created_at": "2025-01-31T12:00:00Z",
            "seed": 7,
            "bootstrap_reps": 200,
            "bootstrap_unit": "identity",
            "confidence": 0.95,
            "alpha": 0.5,
            "target_fmrs": [1e-2, 1e-3, 1e-4],
            "score_bin_width": 1e-4,
            "duration_s": 1.25,
        },
        "data": {
            "images": 1010,
            "templates": 1000,
            "identities": 200,
            "missing_labels": {"images": 10, "identities": 3, "attributes": {"sex": 10}},
            "no_face": 2,
            "genuine_pairs": 800,
            "impostor_pairs": 498_700,
            "groups": [
                {
                    "group": g,
                    "templates": 500,
                    "identities": 100,
                    "genuine_pairs": 400,
                    "impostor_pairs": 9000,
                }
                for g in groups
            ],
        },
        "groups": list(groups),
        "targets": targets,
        "primary_target": 1e-3,
        "per_group": [
            {"group": g, "eer": _est(0.012 + 0.004 * i), "eer_threshold": 0.6}
            for i, g in enumerate(groups)
        ],
        "det": [
            {
                "group": g,
                "threshold": list(np.linspace(0.9, 0.2, 60)),
                "fmr": list(_sf((np.linspace(0.9, 0.2, 60) - mu[g]) / 0.1)),
                "fnmr": list(1 - _sf((np.linspace(0.9, 0.2, 60) - 0.85) / 0.08)),
            }
            for g in groups
        ],
        "histograms": {
            "bin_edges": list(edges),
            "groups": [
                {
                    "group": g,
                    "genuine": [int(v) for v in 400 * np.exp(-((centres - 0.85) ** 2) / 0.0128)],
                    "impostor": [int(v) for v in 9000 * np.exp(-((centres - mu[g]) ** 2) / 0.02)],
                }
                for g in groups
            ],
        },
        "gate": {
            "passed": False,
            "rules": [
                {
                    "expression": "fmr_ratio>2",
                    "metric": "fmr_ratio",
                    "op": ">",
                    "limit": 2.0,
                    "target_fmr": 1e-3,
                    "value": targets[1]["summaries"]["fmr_ratio"]["value"],
                    "status": "fail",
                    "note": None,
                },
                {
                    "expression": "fnmr_ratio>1.5",
                    "metric": "fnmr_ratio",
                    "op": ">",
                    "limit": 1.5,
                    "target_fmr": 1e-3,
                    "value": 1.0,
                    "status": "pass",
                    "note": None,
                },
            ],
        },
        "warnings": ["10 images (3 identities) have no 'sex' label and were left out."],
    }
    if rates_only:
        report["det"] = None
        report["histograms"] = None
        report["per_group"] = [
            {"group": g, "eer": _est(None), "eer_threshold": None} for g in groups
        ]
        for t in report["targets"]:
            t["cross_fmr"] = None
    return report


# --- real reports from the audit engine --------------------------------------------------------


@pytest.fixture(scope="module")
def engine_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A real audit of synthetic templates: 2 groups × 40 identities × 5 images, 3 unlabelled."""
    root = tmp_path_factory.mktemp("engine")
    rng = np.random.default_rng(3)
    dim, rows, labels = 32, [], {}
    for i in range(83):
        sex = ("female", "male")[i % 2] if i < 80 else None
        centre = rng.normal(size=dim) + (0.9 if sex == "female" else 0.6)
        for k in range(5):
            v = centre + rng.normal(scale=0.7, size=dim)
            rows.append((f"id{i:03d}/img{k}.jpg", f"id{i:03d}", v / np.linalg.norm(v)))
        labels[f"id{i:03d}"] = sex or ""
    table = pa.table(
        {
            "path": [r[0] for r in rows],
            "identity": [r[1] for r in rows],
            "embedding": pa.array(
                [r[2].astype(np.float32) for r in rows], type=pa.list_(pa.float32(), dim)
            ),
        }
    )
    pq.write_table(table, root / "emb.parquet")
    (root / "attrs.csv").write_text(
        "identity,sex\n" + "".join(f"{k},{v}\n" for k, v in labels.items()), encoding="utf-8"
    )
    report = audit_embeddings(
        read_embeddings(root / "emb.parquet"),
        read_attributes(root / "attrs.csv"),
        ["sex"],
        AuditSettings(reps=50, seed=1),
        input_kind="embeddings",
        input_path="emb.parquet",
        attributes_path="attrs.csv",
        rules=[parse_rule("fmr_ratio>1.01"), parse_rule("fnmr_ratio>1000")],
    )
    return json.loads(json.dumps(report))  # exactly what report.json holds


def test_engine_report_renders_its_own_numbers(engine_report: dict, tmp_path: Path) -> None:
    path = write_html(engine_report, tmp_path)
    text = path.read_text(encoding="utf-8")
    page = _parse(path)
    assert page.headings[1:] == list(HEADINGS)
    primary = next(
        t for t in engine_report["targets"] if t["target_fmr"] == engine_report["primary_target"]
    )
    for g in primary["groups"]:
        assert g["group"] in _section(text, "groups")
        if g["fmr"]["value"] is not None:
            assert f"{g['fmr']['value']:.3g}" in _section(text, "groups")
    ratio = primary["summaries"]["fmr_ratio"]
    low, high = (_DASH if v is None else f"{v:.3g}" for v in (ratio["low"], ratio["high"]))
    assert f"ratio {ratio['value']:.3g} [{low}, {high}]" in _section(text, "summary")
    assert "FAILED" in _section(text, "gate")  # fmr_ratio>1.01 fails on these data
    assert "lack a label for sex" in text
    images = [a for t, a in page.tags if t == "img"]
    assert len(images) >= 3
    for attrs in images:
        data = base64.b64decode(attrs["src"].split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(data)) as img:
            img.load()


def test_engine_rates_report_rfw_arcface(tmp_path: Path) -> None:
    rates = tmp_path / "rfw.csv"
    rates.write_text(
        "group,accuracy\nCaucasian,92.15\nIndian,88.00\nAsian,83.98\nAfrican,84.93\n",
        encoding="utf-8",
    )
    report = audit_rates(read_rates(rates), AuditSettings(), input_path="rfw.csv")
    text = write_html(json.loads(json.dumps(report)), tmp_path).read_text(encoding="utf-8")
    summary = _section(text, "summary")
    assert "0.8398 (Asian)" in summary and "0.9215 (Caucasian)" in summary
    assert "SER 2.04" in summary and "STD 3.19" in summary
    for section in ("det", "heatmap", "scores"):
        assert "not available for this input" in _section(text, section)


# --- parsing helpers ----------------------------------------------------------------------------


class _Page(HTMLParser):
    """Collects tags, their attributes and heading texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_heading = tag in ("h1", "h2")
        if self._in_heading:
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2"):
            self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self.headings[-1] += data


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _section(text: str, section_id: str) -> str:
    """The text of one section, tags removed and entities decoded."""
    match = re.search(rf'<section id="{section_id}".*?</section>', text, re.S)
    assert match, f"section {section_id} missing"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(0)))


# --- the file itself ----------------------------------------------------------------------------


def test_report_is_one_self_contained_file(tmp_path: Path) -> None:
    path = write_html(make_report(), tmp_path / "out")
    assert path == tmp_path / "out" / "report.html"
    text = path.read_text(encoding="utf-8")
    page = _parse(path)
    outside_data_uris = re.sub(r'"data:image/png;base64,[A-Za-z0-9+/=]*"', '""', text)
    assert "//" not in outside_data_uris  # no http://, https://, file:// or //host references
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe", "object", "embed")]
    assert "url(" not in text
    srcs = [a.get("src") for t, a in page.tags if "src" in a]
    assert srcs and all(s and s.startswith("data:image/png;base64,") for s in srcs)


def test_images_decode_and_have_alt_text(tmp_path: Path) -> None:
    page = _parse(write_html(make_report(), tmp_path))
    images = [a for t, a in page.tags if t == "img"]
    # DET, one heatmap per supported target (1e-2, 1e-3), score distributions
    assert len(images) == 4
    for attrs in images:
        assert attrs.get("alt") and len(attrs["alt"]) > 40
        data = base64.b64decode(attrs["src"].split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            assert img.format == "PNG" and img.width > 300 and img.height > 200
            assert len(img.convert("L").getcolors(maxcolors=1 << 16) or range(2)) > 10


def test_tables_have_headers_and_the_report_numbers(tmp_path: Path) -> None:
    report = make_report()
    path = write_html(report, tmp_path)
    text = path.read_text(encoding="utf-8")
    page = _parse(path)
    tags = [t for t, _ in page.tags]
    assert tags.count("table") == tags.count("caption") == tags.count("thead") >= 7
    assert all(a.get("scope") in ("col", "row") for t, a in page.tags if t == "th")
    assert [h for h in page.headings[1:]] == list(HEADINGS)
    # provenance, thresholds and the gate come straight from the dict
    for needle in ("dlib-resnet:1", "2025-01-31T12:00:00Z", "0.46", "FAILED", "fmr_ratio&gt;2"):
        assert needle in text
    fmr = report["targets"][1]["groups"][0]["fmr"]
    assert f"{fmr['value']:.3g} [{fmr['low']:.3g}, {fmr['high']:.3g}]" in _section(text, "groups")
    assert "UNSUPPORTED" in _section(text, "thresholds")
    assert "not estimated (no group supports this target)" in _section(text, "fairness")
    assert "10 images (3 identities) lack a label for sex" in text
    summary = _section(text, "summary")
    assert "At FMR 1e-3" in summary and "(female)" in summary and "(male)" in summary


def test_many_intersectional_groups(tmp_path: Path) -> None:
    groups = tuple(f"{s}|{r}" for s in ("female", "male") for r in ("african", "asian", "white"))
    path = write_html(make_report(groups), tmp_path)
    page = _parse(path)
    assert len([t for t, _ in page.tags if t == "img"]) == 4
    text = path.read_text(encoding="utf-8")
    assert all(g in _section(text, "groups") for g in groups)


def test_passing_gate_and_no_gate(tmp_path: Path) -> None:
    report = make_report()
    report["gate"]["passed"] = True
    for rule in report["gate"]["rules"]:
        rule["status"] = "pass"
    text = write_html(report, tmp_path / "a").read_text(encoding="utf-8")
    assert "PASSED" in _section(text, "gate") and "FAILED" not in text
    report["gate"] = {"passed": True, "rules": []}
    text = write_html(report, tmp_path / "b").read_text(encoding="utf-8")
    assert "No gate conditions" in _section(text, "gate")


def test_rates_only_report_says_what_is_not_available(tmp_path: Path) -> None:
    text = write_html(make_report(rates_only=True), tmp_path).read_text(encoding="utf-8")
    for section in ("det", "heatmap", "scores"):
        assert "not available for this input" in _section(text, section)
    assert "not available" not in _section(text, "fairness")
    assert "<img" not in text


def test_accuracy_only_rates_summarise_ser_and_std(tmp_path: Path) -> None:
    """RFW Table 1 ArcFace row (Wang et al. 2019) as given: only accuracy per group."""
    report = make_report(("Caucasian", "Indian", "Asian", "African"), rates_only=True)
    accuracy = {"Caucasian": 0.9215, "Indian": 0.88, "Asian": 0.8398, "African": 0.8493}
    target = report["targets"][0]
    report["targets"] = [target]
    target.update(target_fmr=None, threshold=None, cross_fmr=None)
    for g in target["groups"]:
        g.update(
            supported=True,
            fmr=_est(None, note="not in the rates table"),
            fnmr=_est(None, note="not in the rates table"),
            accuracy={"value": accuracy[g["group"]], "low": None, "high": None},
        )
    target["summaries"] = {
        "ser": {"value": 2.04, "low": None, "high": None, "note": None},
        "std": {"value": 3.19, "low": None, "high": None, "note": None},
    }
    text = write_html(report, tmp_path).read_text(encoding="utf-8")
    summary = _section(text, "summary")
    assert "accuracy ranges from 0.8398 (Asian) to 0.9215 (Caucasian)" in summary
    assert "SER 2.04" in summary and "STD 3.19" in summary
    assert "not available for this input" in _section(text, "thresholds")


def test_bare_report_renders_every_section_as_unavailable(tmp_path: Path) -> None:
    page = _parse(write_html({"schema": SCHEMA}, tmp_path))
    assert page.headings[1:] == list(HEADINGS)
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert text.count("not available for this input") == 8


def test_labels_from_user_data_are_escaped(tmp_path: Path) -> None:
    text = write_html(make_report(("<script>x()</script>", "b&c")), tmp_path).read_text("utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;x()&lt;/script&gt;" in text and "b&amp;c" in text


@pytest.mark.parametrize("bad", [{}, {"schema": "faceaudit.audit/0"}, ["schema"]])
def test_rejects_what_is_not_a_report(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ReportFormatError) as info:
        write_html(bad, tmp_path)  # type: ignore[arg-type]
    assert isinstance(info.value, FaceAuditError)
    assert not (tmp_path / "report.html").exists()


# --- a real headless Chromium ------------------------------------------------------------------

def _open(page: Path, tmp_path: Path, *extra: str) -> tuple[str, list[str]]:
    """Open the file ``page`` in headless Chromium; return stdout and the console lines."""
    return open_in_chromium(page.resolve().as_uri(), tmp_path / "profile", *extra)


def test_console_scan_catches_errors_and_external_resources(tmp_path: Path) -> None:
    """Negative control: the scan sees a script error and a blocked external image."""
    path = write_html(make_report(), tmp_path)
    text = path.read_text(encoding="utf-8")
    bad = tmp_path / "bad.html"
    bad.write_text(
        text.replace(
            "</body>",
            '<img src="https://example.invalid/pixel.png" alt="x"></body>',
        ),
        encoding="utf-8",
    )
    _, console = _open(bad, tmp_path, "--dump-dom")
    assert any("Content Security Policy" in line for line in console), console
    script = tmp_path / "script.html"
    script.write_text("<!DOCTYPE html><title>t</title><script>missing()</script>", "utf-8")
    _, console = _open(script, tmp_path, "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console), console


def test_report_renders_in_headless_chromium_without_console_errors(
    engine_report: dict, tmp_path: Path
) -> None:
    path = write_html(engine_report, tmp_path)
    dom, console = _open(path, tmp_path, "--dump-dom")
    assert console == []
    for heading in ("faceaudit demographic audit by sex", *HEADINGS):
        assert re.search(rf"<h[12][^>]*>{re.escape(heading)}</h[12]>", dom), heading
    shot = tmp_path / "shot.png"
    _, console = _open(path, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400")
    assert console == []
    with Image.open(shot) as img:
        assert img.size == (1280, 2400)
        # something was painted: text, tables and plots give many distinct grey levels
        assert len(img.convert("L").getcolors(maxcolors=1 << 16) or range(256)) > 50
