"""Quality components move the right way on real photos degraded on purpose (issue 25).

Each degradation is applied to a real face photo; the face's landmarks are carried through the
degradation analytically (scaled, rotated), so a component's change is the image's doing, not
the detector's.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from faceaudit.engine import api
from faceaudit.engine.faces import quality
from faceaudit.engine.faces.box import Box
from faceaudit.engine.faces.detect import Face

PHOTOS = ("face_recognition-mit/obama.jpg", "face_recognition-mit/biden.jpg")


@pytest.fixture(scope="module", params=PHOTOS)
def photo(request: pytest.FixtureRequest, faces_small: Path) -> tuple[np.ndarray, Face]:
    """A real photo's pixels and its one detected face."""
    decoded = api.open_image(faces_small / request.param)
    faces, _ = api.detect_in(decoded)
    assert decoded.scale == 1.0 and len(faces) == 1
    return decoded.pixels, faces[0]


def _components(pixels: np.ndarray, face: Face) -> dict[str, float]:
    return quality.quality_components(pixels, face)


def _moved(face: Face, matrix: np.ndarray, width: int, height: int) -> Face:
    """``face`` under the 2×3 affine ``matrix`` (image → degraded image), box around it."""
    points = np.c_[face.landmarks.astype(np.float64), np.ones(5)] @ matrix.T
    corners = np.array([[face.box.left, face.box.top, 1], [face.box.right, face.box.top, 1],
                        [face.box.left, face.box.bottom, 1], [face.box.right, face.box.bottom, 1]],
                       dtype=np.float64) @ matrix.T
    box = Box(max(0, int(corners[:, 0].min())), max(0, int(corners[:, 1].min())),
              min(width - 1, int(corners[:, 0].max())), min(height - 1, int(corners[:, 1].max())))
    return Face(box=box, score=face.score, landmarks=points.astype(np.float32))


def test_every_component_is_returned_and_finite(photo) -> None:
    pixels, face = photo
    values = _components(pixels, face)
    assert tuple(values) == quality.COMPONENTS
    assert all(math.isfinite(v) for v in values.values())
    assert 0 < values["face_size_ratio"] <= 1 and 0 < values["luminance_mean"] < 1
    assert abs(values["roll_deg"]) < 20 and abs(values["yaw_deg"]) < 20  # near-frontal portraits


def test_blur_lowers_sharpness(photo) -> None:
    pixels, face = photo
    blurred = np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(3)))
    assert _components(blurred, face)["sharpness"] < 0.6 * _components(pixels, face)["sharpness"]


def test_a_face_downscaled_to_40_px_is_less_sharp_where_the_naive_laplacian_says_sharper(
        photo) -> None:
    pixels, face = photo
    factor = 40 / face.box.width
    height, width = pixels.shape[:2]
    size = (round(width * factor), round(height * factor))
    small = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))
    small_face = face.scaled(factor, size[0], size[1])
    assert small_face.box.width <= 41
    before, after = _components(pixels, face), _components(small, small_face)
    # the naive measure is fooled: the tiny face's edges are denser in its pixel grid
    assert (quality.naive_laplacian_variance(small, small_face.box)
            > quality.naive_laplacian_variance(pixels, face.box))
    assert after["sharpness"] < 0.7 * before["sharpness"]
    assert after["inter_eye_distance_px"] == pytest.approx(
        before["inter_eye_distance_px"] * factor, rel=0.05)
    assert after["inter_eye_distance_px"] < 20
    # the face is as large relative to its (smaller) image as before
    assert after["face_size_ratio"] == pytest.approx(before["face_size_ratio"], rel=0.05)


def test_darkening_lowers_luminance_and_dynamic_range_and_underexposes(photo) -> None:
    pixels, face = photo
    dark = (pixels.astype(np.float64) * 0.3).astype(np.uint8)
    before, after = _components(pixels, face), _components(dark, face)
    assert after["luminance_mean"] < 0.4 * before["luminance_mean"]
    assert after["underexposure_fraction"] > before["underexposure_fraction"] + 0.02
    assert after["dynamic_range_bits"] < before["dynamic_range_bits"] - 1
    # contrast-normalised: darkening alone is not read as blur
    assert after["sharpness"] == pytest.approx(before["sharpness"], rel=0.2)


def test_overexposure_raises_the_overexposed_fraction(photo) -> None:
    pixels, face = photo
    bright = np.clip(pixels.astype(np.float64) * 3.0, 0, 255).astype(np.uint8)
    before, after = _components(pixels, face), _components(bright, face)
    assert after["overexposure_fraction"] > before["overexposure_fraction"] + 0.2
    assert after["luminance_mean"] > before["luminance_mean"]
    assert after["dynamic_range_bits"] < before["dynamic_range_bits"]


def test_side_lighting_lowers_uniformity(photo) -> None:
    pixels, face = photo
    left, right = quality.eye_centres(face.landmarks)
    split = int((left[0] + right[0]) / 2)
    lit = pixels.astype(np.float64)
    lit[:, :split] *= 0.35
    after = _components(lit.astype(np.uint8), face)["luminance_uniformity"]
    before = _components(pixels, face)["luminance_uniformity"]
    assert after < before - 0.3 and 0 <= after <= 1


def test_heavy_jpeg_raises_blockiness(photo) -> None:
    pixels, face = photo
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=5)
    compressed = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    before, after = _components(pixels, face), _components(compressed, face)
    assert after["compression_blockiness"] > before["compression_blockiness"] + 1
    assert after["dynamic_range_bits"] < before["dynamic_range_bits"]


@pytest.mark.parametrize("angle", [20.0, -30.0])
def test_rotation_moves_roll_by_the_angle(photo, angle: float) -> None:
    pixels, face = photo
    height, width = pixels.shape[:2]
    centre = ((face.box.left + face.box.right) / 2, (face.box.top + face.box.bottom) / 2)
    rotated = np.asarray(Image.fromarray(pixels).rotate(angle, center=centre,
                                                        resample=Image.Resampling.BILINEAR))
    # Pillow turns the picture counter-clockwise on screen: in y-down pixels a point moves by
    # the rotation of −angle about the centre
    theta = math.radians(-angle)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    matrix = np.c_[rot, np.asarray(centre) - rot @ np.asarray(centre)]
    turned = _moved(face, matrix, width, height)
    before, after = _components(pixels, face), _components(rotated, turned)
    assert after["roll_deg"] == pytest.approx(before["roll_deg"] - angle, abs=0.5)
    assert abs(after["yaw_deg"] - before["yaw_deg"]) < 1  # a roll is not a yaw
    # the normalised crop is upright again: the photometric components barely move
    assert after["luminance_mean"] == pytest.approx(before["luminance_mean"], abs=0.03)
    assert after["sharpness"] == pytest.approx(before["sharpness"], rel=0.25)


def test_padding_the_image_makes_the_face_relatively_smaller(photo) -> None:
    pixels, face = photo
    height, width = pixels.shape[:2]
    canvas = np.full((height * 2, width * 2, 3), 128, np.uint8)
    canvas[:height, :width] = pixels
    after = _components(canvas, face)
    before = _components(pixels, face)
    assert after["face_size_ratio"] == pytest.approx(before["face_size_ratio"] / 2, rel=0.01)
    assert after["inter_eye_distance_px"] == before["inter_eye_distance_px"]


def test_mirroring_flips_the_sign_of_yaw_and_roll(photo) -> None:
    pixels, face = photo
    height, width = pixels.shape[:2]
    mirrored = np.ascontiguousarray(pixels[:, ::-1])
    flipped = _moved(face, np.array([[-1.0, 0, width - 1], [0, 1.0, 0]]), width, height)
    before, after = _components(pixels, face), _components(mirrored, flipped)
    assert after["yaw_deg"] == pytest.approx(-before["yaw_deg"], abs=0.2)
    assert after["roll_deg"] == pytest.approx(-before["roll_deg"], abs=0.2)


def _projected_landmarks(yaw: float, roll: float = 0.0, ied: float = 60.0) -> np.ndarray:
    """dlib's 5 points of a model head turned by ``yaw`` then rolled by ``roll`` (degrees),
    projected orthographically; the nose base lies NOSE_DEPTH_IED·IED in front of the eyes."""
    half = ied / 2
    # x right on screen, y down, z towards the camera; image-right eye first (dlib's order)
    model = np.array([[half + 12, 0, -4], [half - 12, 0, 4], [-half - 12, 0, -4],
                      [-half + 12, 0, 4], [0, 0.8 * ied, quality.NOSE_DEPTH_IED * ied]])
    t = math.radians(yaw)
    turn = np.array([[math.cos(t), 0, math.sin(t)], [0, 1, 0], [-math.sin(t), 0, math.cos(t)]])
    r = math.radians(roll)
    spin = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
    points = (model @ turn.T)[:, :2] @ spin.T
    return points + 200


@pytest.mark.parametrize("yaw", [-45.0, -20.0, 0.0, 10.0, 30.0, 50.0])
def test_yaw_is_recovered_from_a_turned_model_head(yaw: float) -> None:
    assert quality.yaw_deg(_projected_landmarks(yaw)) == pytest.approx(yaw, abs=3)
    assert quality.yaw_deg(_projected_landmarks(yaw, roll=25)) == pytest.approx(yaw, abs=3)
    assert quality.roll_deg(_projected_landmarks(yaw, roll=25)) == pytest.approx(25, abs=0.5)


def test_rounded_keeps_every_component() -> None:
    values = {name: 1.23456789 for name in quality.COMPONENTS}
    out = quality.rounded(values)
    assert set(out) == set(values)
    assert out["inter_eye_distance_px"] == 1.2 and out["luminance_mean"] == 1.2346


def test_probe_quality_of_a_large_image_is_in_its_original_pixels(faces_small: Path,
                                                                  tmp_path: Path) -> None:
    photo = faces_small / "face_recognition-mit" / "obama.jpg"
    decoded = api.open_image(photo)
    faces, _ = api.detect_in(decoded)
    big = tmp_path / "big.png"
    width, height = decoded.original_size
    Image.fromarray(decoded.pixels).resize((width * 3, height * 3)).save(big)
    big_decoded = api.open_image(big)
    assert big_decoded.scale < 1  # decoded at the engine's working size
    big_faces, _ = api.detect_in(big_decoded)
    small_q, big_q = api.probe_quality(decoded, faces)[0], api.probe_quality(big_decoded,
                                                                              big_faces)[0]
    assert big_q["inter_eye_distance_px"] == pytest.approx(
        3 * small_q["inter_eye_distance_px"], rel=0.05)
    assert big_q["face_size_ratio"] == pytest.approx(small_q["face_size_ratio"], rel=0.1)
    # one decode for identify: the same faces and quality as detect's path
    found, embeddings, qualities = api.face_embeddings_and_quality(photo.read_bytes())
    assert len(found) == len(embeddings) == 1 and qualities == api.probe_quality(decoded, faces)
