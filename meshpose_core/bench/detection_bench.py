"""Does the pipeline find every person? Detection and full-pipeline recall on real photos.

``python -m meshpose_core.bench detection [--shared ../shared] [--sets ...]`` reads the
COCO-format sets of ``../shared/media/annotated`` (every person boxed by a human; COCO and
tiny-COCO also outline them), and prints for each person detector:

- detection recall and precision, people >= 100 px tall and all: YOLOX's box matches a person
  at IoU >= 0.5; BlazePose's SSD gives no person box (its box is a circle around the body
  from the hips), so its detection matches a person when its hip point lies inside the
  person's box (as its ROI is centred there). Matching is one to one, best score first;
  unmatched detections on crowd regions are left out (COCO's rule), and for the >= 100 px
  figures so are those matched to smaller people. Detector ms per frame (median; pre- and
  post-processing in).
- recall and precision through the whole pipeline: a person is found when the pipeline
  outputs a mesh whose box (clipped to the frame) matches the person's box at IoU >= 0.5
  (one to one, largest total IoU); precision is the share of the meshes drawn that match a
  person, counted as the detector's is (a mesh centred on a crowd region and matching
  nobody, or for >= 100 px one matched to a smaller person, is left out);
- where the people >= 100 px that the pipeline does not find are lost (``lost_where``): not
  detected, detected but no mesh drawn near them (withheld by the guard or the tracker, or
  over the people cap), or a mesh drawn on them whose box misses theirs (IoU 0.1-0.5: a body
  drawn shorter or narrower than the person, or whole where the person is cut by the frame
  or hidden);
- for people with an outline: the share of found people whose mesh covers more of their own
  mask than of anyone else's, and the meshes that join two people (cover at least half as
  much of a second person's mask as of the best one) or are broken (``mesh_integrity``).

``--still-frames K`` runs each photo K times as a still video and scores the last frame: the
crops then follow the meshes (``pipeline/crops.py``), as in a video of people standing still.
``--yolox-scores 0.4,0.2`` compares YOLOX score thresholds (below the tracker's
``confident_score`` a detection is drawn only once its mesh vets it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from meshpose_core.data.real.paths import DEFAULT_SHARED_ROOT, require_shared_root
from meshpose_core.detection import RotatedRoi
from meshpose_core.eval.eval_sets import ANNOTATED, coco_box, coco_polygons
from meshpose_core.eval.silhouette import mesh_silhouette, polygon_crop_mask
from meshpose_core.pipeline.tracker import in_view, iou_matrix

MIN_HEIGHT = 100.0  # px: "people >= 100 px tall"
IOU_MATCH = 0.5
MASK_CANVAS = 320  # px, long side of the frame-wide masks compared for overlap

SETS: dict[str, tuple[str, str]] = {  # name: (json, image folder), relative to the shared root
    "tiny_coco_val": (
        f"{ANNOTATED}/tiny_coco_person/annotations/person_keypoints_val2017_persononly.json",
        f"{ANNOTATED}/tiny_coco_person/val2017",
    ),
    "tiny_coco_train": (
        f"{ANNOTATED}/tiny_coco_person/annotations/person_keypoints_train2017_persononly.json",
        f"{ANNOTATED}/tiny_coco_person/train2017",
    ),
    "coco": (f"{ANNOTATED}/coco/test_coco.json", f"{ANNOTATED}/coco"),
    "aic": (f"{ANNOTATED}/aic/test_aic.json", f"{ANNOTATED}/aic"),
    "posetrack18": (
        f"{ANNOTATED}/posetrack18/annotations/test_posetrack18_val.json",
        f"{ANNOTATED}/posetrack18",
    ),
    "humanart": (f"{ANNOTATED}/humanart/test_humanart.json", f"{ANNOTATED}/humanart"),
}


@dataclass(frozen=True, eq=False)
class AnnotatedImage:
    """One photo: boxes (N, 4) continuous x0, y0, x1, y1 of every person, polygons per
    person (() where not outlined), crowd (C, 4) regions whose detections are not counted."""

    path: Path
    boxes: np.ndarray
    polygons: tuple[tuple[np.ndarray, ...], ...]
    crowd: np.ndarray


def read_set(root: Path, json_path: str, image_dir: str) -> list[AnnotatedImage]:
    """Every annotated person of a COCO-format set, keypoints or not (images not on this
    machine are skipped)."""
    data = json.loads((root / json_path).read_text())
    per_image: dict[int, list[dict]] = {im["id"]: [] for im in data["images"]}
    for ann in data["annotations"]:
        per_image.setdefault(ann["image_id"], []).append(ann)
    out = []
    for im in data["images"]:
        path = root / image_dir / im["file_name"].removeprefix("HumanArt/images/")
        if not path.is_file():
            continue
        anns = per_image[im["id"]]
        people = [a for a in anns if not a.get("iscrowd")]
        crowd = [coco_box(a["bbox"]) for a in anns if a.get("iscrowd")]
        out.append(
            AnnotatedImage(
                path,
                np.array([coco_box(a["bbox"]) for a in people]).reshape(-1, 4),
                tuple(coco_polygons(a.get("segmentation")) for a in people),
                np.array(crowd).reshape(-1, 4),
            )
        )
    return out


def match_greedy(affinity: np.ndarray, threshold: float) -> np.ndarray:
    """(D, G) affinity of detections (rows, best score first) with people -> (D,) index of
    the person each detection takes (-1: none): each in turn takes the free person of highest
    affinity >= threshold (COCO's evaluation order)."""
    taken = np.full(affinity.shape[0], -1)
    free = np.ones(affinity.shape[1], bool)
    for d in range(affinity.shape[0]):
        a = np.where(free, affinity[d], -np.inf)
        if a.size and a.max() >= threshold:
            taken[d] = int(a.argmax())
            free[taken[d]] = False
    return taken


def centre_inside(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(D, 2) points, (G, 4) boxes -> (D, G) affinity: 1 / (1 + distance to the box centre in
    box heights) where the point is inside the box, else 0 (the closest enclosing box wins)."""
    p = points[:, None]
    inside = (p[..., 0] >= boxes[:, 0]) & (p[..., 0] <= boxes[:, 2])
    inside &= (p[..., 1] >= boxes[:, 1]) & (p[..., 1] <= boxes[:, 3])
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    dist = np.linalg.norm(p - centres, axis=-1) / heights
    return np.where(inside, 1.0 / (1.0 + dist), 0.0)


@dataclass
class Counts:
    """Matched people and counted detections, for recall and precision."""

    people: int = 0
    found: int = 0
    detections: int = 0
    correct: int = 0

    def add(self, people: int, found: int, detections: int, correct: int) -> None:
        self.people += people
        self.found += found
        self.detections += detections
        self.correct += correct

    def recall(self) -> float:
        return self.found / max(self.people, 1)

    def precision(self) -> float:
        return self.correct / max(self.detections, 1)


@dataclass
class DetectorFigures:
    name: str
    tall: Counts = field(default_factory=Counts)
    every: Counts = field(default_factory=Counts)
    ms: list[float] = field(default_factory=list)


def score_detections(
    figures: DetectorFigures,
    image: AnnotatedImage,
    affinity: np.ndarray,
    threshold: float,
    on_crowd: np.ndarray,
) -> np.ndarray:
    """Add one image's matches (``affinity`` (D, G), detections best first) to ``figures``;
    an unmatched detection on a crowd region (``on_crowd`` (D,)) is not counted (COCO's
    rule). Returns each detection's person (-1: none)."""
    taken = match_greedy(affinity, threshold)
    add_matches(figures.tall, figures.every, image, taken, on_crowd)
    return taken


def add_matches(
    tall: Counts, every: Counts, image: AnnotatedImage, taken: np.ndarray, on_crowd: np.ndarray
) -> None:
    """Count one image's outputs (detections or meshes), ``taken`` (D,) the person each
    matched (-1: none), into the >= 100 px and all-people figures: an unmatched output on a
    crowd region (``on_crowd`` (D,)) is not counted (COCO's rule), nor, for >= 100 px, one
    matched to a smaller person."""
    heights = image.boxes[:, 3] - image.boxes[:, 1]
    is_tall = heights >= MIN_HEIGHT
    matched = taken[taken >= 0]
    counted = (taken >= 0) | ~on_crowd
    every.add(len(heights), len(matched), int(counted.sum()), len(matched))
    counted &= (taken < 0) | is_tall[np.maximum(taken, 0)]
    found = int(is_tall[matched].sum())
    tall.add(int(is_tall.sum()), found, int(counted.sum()), found)


def detection_affinity(detections: Sequence, image: AnnotatedImage) -> tuple[np.ndarray, str]:
    """(D, G) affinity of one detector's detections with the people, and the threshold:
    box IoU for a box detector, hip point inside the box for BlazePose."""
    if not detections:
        return np.zeros((0, len(image.boxes))), IOU_MATCH
    if detections[0].person_box is not None:
        return iou_matrix(np.array([d.person_box for d in detections]), image.boxes), IOU_MATCH
    hips = np.array([d.centre() for d in detections])
    return centre_inside(hips, image.boxes), 1e-9


def on_crowd(detections: Sequence, image: AnnotatedImage) -> np.ndarray:
    """(D,) bool: the detection's centre lies in a crowd region."""
    return in_crowd(np.array([d.centre() for d in detections]).reshape(-1, 2), image)


def in_crowd(points: np.ndarray, image: AnnotatedImage) -> np.ndarray:
    """(D, 2) image points -> (D,) bool: the point lies in a crowd region."""
    if not len(image.crowd) or not len(points):
        return np.zeros(len(points), bool)
    return centre_inside(points, image.crowd).max(axis=1) > 0


def frame_roi(width: int, height: int) -> tuple[RotatedRoi, int]:
    """A square ROI around the whole frame and its canvas size (masks compared there)."""
    side = float(max(width, height))
    return RotatedRoi(center=(width / 2, height / 2), size=side, rotation=0.0), MASK_CANVAS


def mesh_box_in_frame(vertices: np.ndarray, width: int, height: int) -> np.ndarray:
    """(V, >=2) image px (pixel centres) -> (4,) continuous bounding box clipped to the frame."""
    lo, hi = vertices[:, :2].min(0) + 0.5, vertices[:, :2].max(0) + 0.5
    return in_view(np.concatenate([lo, hi]), (width, height))


def box_centres(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) boxes -> (N, 2) centres."""
    return (boxes[:, :2] + boxes[:, 2:]) / 2


def lost_where(
    people: np.ndarray, detections: np.ndarray, meshes: np.ndarray, found: np.ndarray
) -> tuple[int, int, int]:
    """People boxes (G, 4), detector person boxes (D, 4), drawn mesh boxes (M, 4), (G,) found
    -> counts of the people not found that were (undetected: no detection at IoU >= 0.5;
    no mesh: detected, but no mesh box at IoU >= 0.1; mesh off: a mesh near them, none
    matching at IoU >= 0.5)."""
    lost = ~np.asarray(found, bool)
    detected = iou_matrix(people, detections).max(axis=1, initial=0.0) >= IOU_MATCH
    near = iou_matrix(people, meshes).max(axis=1, initial=0.0) >= 0.1
    return (
        int((lost & ~detected).sum()),
        int((lost & detected & ~near).sum()),
        int((lost & detected & near).sum()),
    )


@dataclass
class PipelineFigures:
    tall: Counts = field(default_factory=Counts)
    every: Counts = field(default_factory=Counts)
    undetected: int = 0  # people >= 100 px not found: where they were lost (``lost_where``)
    no_mesh: int = 0
    mesh_off: int = 0
    outlined_found: int = 0
    own_mask: int = 0
    joined: int = 0
    broken: int = 0
    meshes: int = 0


def overlap_matrix(
    meshes: Sequence[np.ndarray], faces: np.ndarray, image: AnnotatedImage, width: int, height: int
) -> np.ndarray:
    """(M, G) pixels of each mesh's silhouette inside each person's outline (frame canvas)."""
    roi, size = frame_roi(width, height)
    to_canvas = roi.image_to_crop(size)
    masks = [
        polygon_crop_mask(p, roi, size) if p else np.zeros((size, size), bool)
        for p in image.polygons
    ]
    out = np.zeros((len(meshes), len(masks)))
    for i, v in enumerate(meshes):
        xy = (v[:, :2] + 0.5) @ to_canvas[:, :2].T + to_canvas[:, 2] - 0.5
        sil = mesh_silhouette(np.concatenate([xy, v[:, 2:3] * 0], axis=1), faces, size)
        out[i] = [np.count_nonzero(sil & m) for m in masks]
    return out


def score_pipeline(
    figures: PipelineFigures,
    image: AnnotatedImage,
    people: Sequence,
    faces: np.ndarray,
    width: int,
    height: int,
    is_broken: Callable[[object], bool],
    detections: np.ndarray | None = None,
) -> None:
    """Add one image's pipeline output (``PersonResult``s) to ``figures`` (recall and
    precision as ``add_matches`` counts them, meshes matched by box IoU); with the
    detector's person boxes (D, 4), also where the people >= 100 px not found were lost."""
    boxes = np.array([mesh_box_in_frame(p.vertices_high, width, height) for p in people])
    boxes = boxes.reshape(-1, 4)
    iou = iou_matrix(boxes, image.boxes)
    rows, cols = linear_sum_assignment(-iou) if iou.size else ([], [])
    found = np.zeros(len(image.boxes), bool)
    owner = np.full(len(image.boxes), -1)
    taken = np.full(len(boxes), -1)
    for r, c in zip(rows, cols, strict=True):
        if iou[r, c] >= IOU_MATCH:
            found[c], owner[c], taken[r] = True, r, c
    add_matches(figures.tall, figures.every, image, taken, in_crowd(box_centres(boxes), image))
    tall = image.boxes[:, 3] - image.boxes[:, 1] >= MIN_HEIGHT
    if detections is not None:
        lost = lost_where(image.boxes[tall], detections.reshape(-1, 4), boxes, found[tall])
        figures.undetected += lost[0]
        figures.no_mesh += lost[1]
        figures.mesh_off += lost[2]
    figures.meshes += len(people)
    figures.broken += sum(is_broken(p) for p in people)
    outlined = np.array([bool(p) for p in image.polygons], bool)
    if not people or not outlined.any():
        return
    overlap = overlap_matrix([p.vertices_high for p in people], faces, image, width, height)
    overlap[:, ~outlined] = 0
    for person in np.flatnonzero(found & outlined):
        mesh = owner[person]
        figures.outlined_found += 1
        others = np.delete(overlap[mesh], person)
        figures.own_mask += int(overlap[mesh, person] > (others.max() if others.size else 0))
    best = np.sort(overlap, axis=1)[:, ::-1]
    if best.shape[1] >= 2:
        figures.joined += int(np.count_nonzero((best[:, 0] > 0) & (best[:, 1] >= 0.5 * best[:, 0])))


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB image of ``path``; ValueError if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"unreadable image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def run(
    shared: Path | None,
    set_names: Sequence[str],
    detectors: Sequence[str],
    yolox_sizes: Sequence[int],
    model: str | None,
    threads: int,
    max_people: int,
    with_pipeline: bool,
    still_frames: int = 1,
    yolox_scores: Sequence[float] | None = None,
) -> str:
    """Measure and print the report; returns it. ``yolox_scores``: YOLOX score thresholds
    to compare (None: the config's)."""
    from meshpose_core.detection import YoloxConfig, create_person_detector
    from meshpose_core.pipeline import Pipeline, PipelineConfig
    from meshpose_core.pipeline.engine import _quiet_native_stderr
    from meshpose_core.pipeline.sources import Frame
    from meshpose_core.pipeline.tracker import TrackerConfig
    from meshpose_core.topology import Topology
    from meshpose_core.topology.integrity import mesh_is_broken

    if still_frames < 1:
        raise ValueError(f"--still-frames must be at least 1, got {still_frames}")
    root = require_shared_root(shared or DEFAULT_SHARED_ROOT)
    images = {name: read_set(root, *SETS[name]) for name in set_names}
    scores = [YoloxConfig.score_threshold] if yolox_scores is None else list(yolox_scores)
    variants = [
        (f"yolox {s}" + (f" score {t:g}" if yolox_scores else ""), "yolox", s, t)
        if d == "yolox"
        else ("blazepose", "blazepose", 0, 0.0)
        for d in detectors
        for s in (yolox_sizes if d == "yolox" else (0,))
        for t in (scores if d == "yolox" else (0.0,))
    ]
    base = PipelineConfig(tracker=TrackerConfig(max_tracks=max_people))
    if model:
        base = replace(base, network=replace(base.network, model=model))
    base = replace(base, network=replace(base.network, threads=threads))
    faces = Topology.load("high").faces
    lines = []
    n_people = sum(len(im.boxes) for ims in images.values() for im in ims)
    n_images = sum(len(ims) for ims in images.values())
    lines.append(
        f"{n_images} images, {n_people} annotated people ({', '.join(set_names)}); pipeline "
        f"scored on frame {still_frames} of each photo run as a still video"
    )
    header = (
        "| detector | ms/frame | det recall >= 100 px | det precision >= 100 px | det recall all "
        "| det precision all | pipeline recall >= 100 px | pipeline precision >= 100 px "
        "| pipeline recall all | pipeline precision all | mesh on own "
        "mask | joined meshes | broken meshes | meshes | >= 100 px lost: undetected / no mesh "
        "/ mesh off their box |"
    )
    lines += ["", header, "|" + " --- |" * (header.count("|") - 1)]
    for label, name, size, score in variants:
        yolox = YoloxConfig(input_size=size or 416, num_threads=threads)
        yolox = replace(yolox, score_threshold=score) if name == "yolox" else yolox
        config = replace(
            base,
            person_detector=name,
            yolox=yolox,
            detector=replace(base.detector, num_threads=threads),
        )
        with _quiet_native_stderr():
            detector = create_person_detector(name, config.detector, config.yolox)
        det = DetectorFigures(label)
        pipe_figs = PipelineFigures()
        pipe = (
            Pipeline(replace(config, render=replace(config.render, layers=())))
            if (with_pipeline)
            else None
        )
        for ims in images.values():
            for im in ims:
                rgb = read_rgb(im.path)
                detector.detect(rgb)  # warm caches at this size
                t = time.perf_counter()
                found = detector.detect(rgb)
                det.ms.append((time.perf_counter() - t) * 1e3)
                affinity, threshold = detection_affinity(found, im)
                score_detections(det, im, affinity, threshold, on_crowd(found, im))
                if pipe is not None:
                    pipe.reset()
                    for k in range(still_frames):
                        result = pipe.process(Frame(rgb, k / 30, k))
                    h, w = rgb.shape[:2]
                    person_boxes = np.array(
                        [d.person_box for d in found if d.person_box is not None]
                    )
                    score_pipeline(
                        pipe_figs, im, result.people, faces, w, h,
                        lambda p: mesh_is_broken(p.vertices),
                        person_boxes if len(person_boxes) == len(found) else None,
                    )  # fmt: skip
        pf = pipe_figs
        pipeline_cols = (
            f"{pf.tall.recall():.3f} ({pf.tall.found}/{pf.tall.people}) | "
            f"{pf.tall.precision():.3f} | "
            f"{pf.every.recall():.3f} ({pf.every.found}/{pf.every.people}) | "
            f"{pf.every.precision():.3f} | "
            f"{pf.own_mask / max(pf.outlined_found, 1):.3f} ({pf.own_mask}/{pf.outlined_found}) "
            f"| {pf.joined} | {pf.broken} | {pf.meshes} | "
            + (f"{pf.undetected} / {pf.no_mesh} / {pf.mesh_off}" if name == "yolox" else "-")
            if pipe is not None
            else "- | - | - | - | - | - | - | - | -"
        )
        lines.append(
            f"| {label} | {np.median(det.ms):.1f} | {det.tall.recall():.3f} "
            f"({det.tall.found}/{det.tall.people}) | {det.tall.precision():.3f} | "
            f"{det.every.recall():.3f} ({det.every.found}/{det.every.people}) | "
            f"{det.every.precision():.3f} | {pipeline_cols} |"
        )
        print(lines[-1], flush=True)
        if pipe is not None:
            pipe.close()
    report = "\n".join(lines)
    print("\n" + report)
    return report
