"""Face image quality components: a model-free subset of ISO/IEC 29794-5, approximated.

ISO/IEC 29794-5 (implemented by BSI's OFIQ) defines face image quality components. OFIQ's own
measures need about 450 MB of models; the functions here need only the pixels and dlib's five
landmarks, so each one is an *approximation* of the component it is named after, with its
formula in ``docs/quality.md``. Every function is arrays in, numbers out, and writes nothing.

Geometry components read the landmarks (:data:`~faceaudit.engine.faces.detect.LANDMARK_NAMES`
order: the image-right eye's outer and inner corner, the image-left eye's, the nose base).
Photometric components read the **normalised face crop** (:func:`face_crop`): the face rotated
upright and resampled so that its inter-eye distance is :data:`REFERENCE_IED_PX` pixels. On
that crop a tiny face (upsampled) measures *less* sharp than a large one, where the naive
Laplacian variance over the face box calls a tiny face sharper (its edges are fewer pixels
apart). Compression blockiness reads the face box in the image's own pixel grid, where JPEG's
8 × 8 blocks are.

The package lives at ``faceaudit.engine.faces.quality`` (the engine layer, beside detection);
:func:`quality_components` is the entry point.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from faceaudit.engine.faces.detect import Face

#: Inter-eye distance, in pixels, of the normalised face crop the photometric components read.
REFERENCE_IED_PX = 64
#: The crop's width and height, and the eyes' height from its top, in inter-eye distances.
CROP_WIDTH_IED, CROP_HEIGHT_IED, CROP_EYE_Y_IED = 2.2, 2.6, 0.9
#: Depth of the nose base in front of the eye centres, as a fraction of the inter-eye distance
#: (anthropometric average; the yaw estimate's one assumption).
NOSE_DEPTH_IED = 0.3
#: Luma at or below which a pixel is under-exposed, at or above which it is over-exposed
#: (OFIQ's bins for ISO/IEC 29794-5's exposure components).
UNDEREXPOSED_LUMA, OVEREXPOSED_LUMA = 25, 247
#: The JPEG block size blockiness looks for.
JPEG_BLOCK = 8
#: The version of these formulas: part of the embedding cache key (engine/embed_chunk.py), so
#: results cached under other formulas are recomputed. Bump it with any change here.
QUALITY_VERSION = 1
#: Every component :func:`quality_components` returns, in order.
COMPONENTS: tuple[str, ...] = (
    "inter_eye_distance_px", "face_size_ratio", "yaw_deg", "roll_deg", "luminance_mean",
    "luminance_uniformity", "underexposure_fraction", "overexposure_fraction",
    "dynamic_range_bits", "sharpness", "compression_blockiness",
)
#: Decimal places each component is rounded to where results carry it (JSON, ledger, tables).
ROUNDING: dict[str, int] = {name: 4 for name in COMPONENTS} | {
    "inter_eye_distance_px": 1, "yaw_deg": 1, "roll_deg": 1, "dynamic_range_bits": 3,
    "sharpness": 4,
}


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The image-left and the image-right eye centre, each the mean of its two corners."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eye_a, eye_b = points[0:2].mean(axis=0), points[2:4].mean(axis=0)
    return (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)


def inter_eye_distance(landmarks: np.ndarray) -> float:
    """ISO/IEC 29794-5 inter-eye distance, approximated: pixels between the eye centres."""
    left, right = eye_centres(landmarks)
    return float(np.hypot(*(right - left)))


def face_size_ratio(box: tuple[int, int, int, int], image_shape: tuple[int, ...]) -> float:
    """Head size relative to the image, approximated: √(box area / image area), in 0–1."""
    left, top, right, bottom = box
    height, width = image_shape[:2]
    area = max(0, right - left) * max(0, bottom - top)
    return float(math.sqrt(area / max(1, width * height)))


def roll_deg(landmarks: np.ndarray) -> float:
    """Head roll, approximated: the eye line's angle from horizontal, in degrees.

    Positive when the image-right eye is lower than the image-left one (clockwise on screen).
    """
    left, right = eye_centres(landmarks)
    dx, dy = right - left
    return float(math.degrees(math.atan2(dy, dx)))


def yaw_deg(landmarks: np.ndarray) -> float:
    """Head yaw, approximated from the nose base's offset along the eye line, in degrees.

    Under orthographic projection a head turned by θ shows its eye centres
    ``E·cos θ`` apart and its nose base (``NOSE_DEPTH_IED·E`` in front of them) shifted
    ``NOSE_DEPTH_IED·E·sin θ`` from their midpoint, so θ = atan(offset / (IED ·
    :data:`NOSE_DEPTH_IED`)). Positive when the nose points to the image's right.
    """
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    left, right = eye_centres(points)
    axis = right - left
    ied = float(np.hypot(*axis))
    if ied <= 0:
        return 0.0
    offset = float((points[4] - (left + right) / 2) @ (axis / ied))
    return float(math.degrees(math.atan2(offset, ied * NOSE_DEPTH_IED)))


def luma(pixels: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of RGB (or gray) uint8 pixels, as float64 0–255."""
    array = np.asarray(pixels, dtype=np.float64)
    if array.ndim == 2:
        return array
    return array[..., 0] * 0.299 + array[..., 1] * 0.587 + array[..., 2] * 0.114


def face_crop(pixels: np.ndarray, landmarks: np.ndarray,
              reference_ied: int = REFERENCE_IED_PX) -> tuple[np.ndarray, np.ndarray]:
    """The face upright at a fixed inter-eye distance: (luma crop, validity mask).

    The region around the eyes (:data:`CROP_WIDTH_IED` × :data:`CROP_HEIGHT_IED` inter-eye
    distances, eyes :data:`CROP_EYE_Y_IED` from the top) is resized with Pillow's antialiasing
    resize so that the eyes lie ``reference_ied`` pixels apart, then rotated by the roll. The
    mask is ``True`` where the crop holds image pixels (not the area beyond the image's edge).
    """
    height, width = pixels.shape[:2]
    left, right = eye_centres(landmarks)
    ied = max(float(np.hypot(*(right - left))), 1e-6)
    angle = math.atan2(*(right - left)[::-1])
    out_w = int(round(CROP_WIDTH_IED * reference_ied))
    out_h = int(round(CROP_HEIGHT_IED * reference_ied))
    # the crop's corners in image pixels bound the region to resize
    scale = ied / reference_ied
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    eye_mid = (left + right) / 2
    ref_mid = np.array([out_w / 2, CROP_EYE_Y_IED * reference_ied])
    corners = np.array([[0, 0], [out_w, 0], [0, out_h], [out_w, out_h]], dtype=np.float64)
    rotation = np.array([[cos, -sin], [sin, cos]])
    image_corners = (corners - ref_mid) @ rotation.T + eye_mid
    x0 = max(0, int(math.floor(image_corners[:, 0].min())) - 2)
    y0 = max(0, int(math.floor(image_corners[:, 1].min())) - 2)
    x1 = min(width, int(math.ceil(image_corners[:, 0].max())) + 2)
    y1 = min(height, int(math.ceil(image_corners[:, 1].max())) + 2)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((out_h, out_w)), np.zeros((out_h, out_w), dtype=bool)
    region = luma(pixels[y0:y1, x0:x1])
    size = (max(2, int(round((x1 - x0) / scale))), max(2, int(round((y1 - y0) / scale))))
    resized = Image.fromarray(region.astype(np.float32)).resize(
        size, Image.Resampling.BILINEAR)
    valid = Image.fromarray(np.full(region.shape, 255, np.uint8)).resize(
        size, Image.Resampling.BILINEAR)
    factor = (size[0] / (x1 - x0), size[1] / (y1 - y0))
    mid = ((eye_mid[0] - x0) * factor[0], (eye_mid[1] - y0) * factor[1])
    # crop pixel (u, v) ← resized pixel mid + R(angle)·((u, v) − ref_mid), at unit scale
    c, s = math.cos(angle), math.sin(angle)
    coefficients = (c, -s, mid[0] - c * ref_mid[0] + s * ref_mid[1],
                    s, c, mid[1] - s * ref_mid[0] - c * ref_mid[1])
    crop = resized.transform((out_w, out_h), Image.Transform.AFFINE, coefficients,
                             resample=Image.Resampling.BILINEAR)
    mask = valid.transform((out_w, out_h), Image.Transform.AFFINE, coefficients,
                           resample=Image.Resampling.BILINEAR, fillcolor=0)
    return np.asarray(crop, dtype=np.float64), np.asarray(mask) >= 250


def luminance_mean(crop: np.ndarray, mask: np.ndarray) -> float:
    """ISO/IEC 29794-5 luminance mean, approximated: mean luma of the face crop / 255, 0–1."""
    values = crop[mask]
    return float(values.mean() / 255.0) if values.size else 0.0


def luminance_uniformity(crop: np.ndarray, mask: np.ndarray) -> float:
    """ISO/IEC 29794-5 illumination uniformity, approximated: the darker half's mean luma over
    the brighter half's (the upright crop split at its vertical midline), 0–1 (1: even)."""
    middle = crop.shape[1] // 2
    halves = [crop[:, :middle][mask[:, :middle]], crop[:, middle:][mask[:, middle:]]]
    if any(half.size == 0 for half in halves):
        return 0.0
    means = sorted(float(half.mean()) for half in halves)
    return means[0] / means[1] if means[1] > 0 else 1.0


def underexposure_fraction(crop: np.ndarray, mask: np.ndarray) -> float:
    """ISO/IEC 29794-5 under-exposure prevention, approximated: the share of face-crop pixels
    with luma ≤ :data:`UNDEREXPOSED_LUMA` (0–1; higher is worse)."""
    values = crop[mask]
    return float((values <= UNDEREXPOSED_LUMA).mean()) if values.size else 0.0


def overexposure_fraction(crop: np.ndarray, mask: np.ndarray) -> float:
    """ISO/IEC 29794-5 over-exposure prevention, approximated: the share of face-crop pixels
    with luma ≥ :data:`OVEREXPOSED_LUMA` (0–1; higher is worse)."""
    values = crop[mask]
    return float((values >= OVEREXPOSED_LUMA).mean()) if values.size else 0.0


def dynamic_range_bits(crop: np.ndarray, mask: np.ndarray) -> float:
    """ISO/IEC 29794-5 dynamic range, approximated as OFIQ does: the entropy, in bits (0–8), of
    the face crop's 256-bin luma histogram."""
    values = np.clip(np.round(crop[mask]), 0, 255).astype(np.int64)
    if values.size == 0:
        return 0.0
    counts = np.bincount(values, minlength=256)
    p = counts[counts > 0] / values.size
    return float(-(p * np.log2(p)).sum())


def laplacian(values: np.ndarray) -> np.ndarray:
    """The 4-neighbour Laplacian of a 2-D array, on its interior ((H−2, W−2))."""
    return (values[:-2, 1:-1] + values[2:, 1:-1] + values[1:-1, :-2] + values[1:-1, 2:]
            - 4 * values[1:-1, 1:-1])


def sharpness(crop: np.ndarray, mask: np.ndarray) -> float:
    """ISO/IEC 29794-5 sharpness, approximated and normalised by face size and contrast.

    The standard deviation of the Laplacian over the normalised crop (fixed inter-eye
    distance, so a small face is measured after upsampling, not at its own dense pixel grid),
    divided by the crop's luma standard deviation + 1 (so darkening alone does not read as
    blur). Higher is sharper.
    """
    interior = (mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
                & mask[1:-1, 1:-1])
    if not interior.any():
        return 0.0
    edges = laplacian(crop)[interior]
    return float(edges.std() / (crop[mask].std() + 1.0))


def naive_laplacian_variance(pixels: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """The naive sharpness measure: the Laplacian's variance over the face box at the image's
    own resolution (for comparison only: it calls a downscaled face sharper)."""
    left, top, right, bottom = box
    region = luma(pixels[top:bottom + 1, left:right + 1])
    return float(laplacian(region).var()) if min(region.shape) > 2 else 0.0


def compression_blockiness(pixels: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """ISO/IEC 29794-5 compression artefacts, approximated: JPEG blockiness over the face box.

    The mean absolute luma step across the image grid's 8-pixel block boundaries divided by
    the mean step elsewhere, averaged over columns and rows (about 1 for an unblocked image;
    higher means visible block edges).
    """
    left, top, right, bottom = box
    region = luma(pixels[top:bottom + 1, left:right + 1])
    ratios = []
    for axis, origin in ((1, left), (0, top)):
        steps = np.abs(np.diff(region, axis=axis))
        if steps.shape[axis] < 2 * JPEG_BLOCK:
            continue
        index = np.arange(steps.shape[axis]) + origin + 1  # step i lies before pixel origin+i+1
        at_boundary = index % JPEG_BLOCK == 0
        on = steps.take(np.flatnonzero(at_boundary), axis=axis).mean()
        off = steps.take(np.flatnonzero(~at_boundary), axis=axis).mean()
        ratios.append((on + 1e-6) / (off + 1e-6))
    return float(np.mean(ratios)) if ratios else 1.0


def quality_components(pixels: np.ndarray, face: Face) -> dict[str, float]:
    """Every quality component of ``face`` in ``pixels`` (RGB uint8, the face's own pixels),
    keyed as :data:`COMPONENTS`, unrounded (see :func:`rounded`)."""
    crop, mask = face_crop(pixels, face.landmarks)
    box = face.box
    return {
        "inter_eye_distance_px": inter_eye_distance(face.landmarks),
        "face_size_ratio": face_size_ratio(box, pixels.shape),
        "yaw_deg": yaw_deg(face.landmarks),
        "roll_deg": roll_deg(face.landmarks),
        "luminance_mean": luminance_mean(crop, mask),
        "luminance_uniformity": luminance_uniformity(crop, mask),
        "underexposure_fraction": underexposure_fraction(crop, mask),
        "overexposure_fraction": overexposure_fraction(crop, mask),
        "dynamic_range_bits": dynamic_range_bits(crop, mask),
        "sharpness": sharpness(crop, mask),
        "compression_blockiness": compression_blockiness(pixels, box),
    }


def rounded(components: dict[str, float]) -> dict[str, float]:
    """The components rounded as results carry them (:data:`ROUNDING`)."""
    return {name: round(float(value), ROUNDING.get(name, 4))
            for name, value in components.items()}
