"""Meshes in crowds: how often one is broken or shared, and how many track ids a clip makes.

``python -m meshpose_core.bench crowd [--images A.jpg ...] [--videos CLIP ...]`` runs crowded
photos (each on its own) and the first frames of crowded clips through the pipeline as it
was (BlazePose detector, upright box crops, every mesh drawn), with YOLOX only, and as it is
now (YOLOX, crops following the bodies, the mesh guard), and prints per configuration: the
meshes drawn, those drawn broken (``topology.integrity.edge_stretch`` above its limit), pairs
drawn on one person (tight boxes overlapping more than the guard's ``duplicate_iou``), the
meshes the guard withheld, the weak detections whose mesh did not vet them
(``TrackerConfig.confident_score``), and for each clip the track ids it made.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from meshpose_core.data.real.paths import DEFAULT_SHARED_ROOT
from meshpose_core.pipeline import Pipeline, PipelineConfig
from meshpose_core.pipeline.layers import RenderConfig
from meshpose_core.pipeline.mesh_guard import MeshGuardConfig, duplicate_meshes
from meshpose_core.pipeline.sources import VideoSource, read_image
from meshpose_core.pipeline.tracker import TrackerConfig
from meshpose_core.topology.integrity import mesh_is_broken

CROWD_IMAGES = tuple(
    f"media/images/{name}"
    for name in (
        "alphapose_street_3.jpg",
        "bev_637168518940300000.jpg",
        "bev_Solvay_conference_1927_all_people.jpg",
        "bev_TennisLessonsHongKong.jpg",
        "bev_pexels-photo-3556662.jpeg",
        "romp_person_overlap.jpg",
        "alphapose_demo2_kids_wall.jpg",
    )
)
CROWD_VIDEOS = (
    "media/videos/mmpose_demo_street.mp4",
    "train/videos/yolov4ds_tokyo_street_walk.mp4",
    "train/videos/aios_group_dance_studio.mp4",
)


@dataclass
class CrowdFigures:
    meshes: int = 0
    broken: int = 0
    shared: int = 0
    withheld: int = 0
    weak: int = 0
    ids: dict[str, int] = field(default_factory=dict)


def configurations(base: PipelineConfig) -> list[tuple[str, PipelineConfig]]:
    """Before (as the pipeline was), YOLOX alone, and now."""
    old_tracking = replace(base.tracker, mesh_steers=False, max_mesh_scale_change=float("inf"))
    before = replace(
        base,
        person_detector="blazepose",
        guard=MeshGuardConfig(enabled=False),
        tracker=old_tracking,
        crop=replace(base.crop, rotate_above_deg=180.0),
    )
    return [
        ("before: BlazePose detector, upright box crops, no guard", before),
        ("YOLOX detector, upright box crops, no guard", replace(before, person_detector="yolox")),
        ("now: YOLOX, crops follow the body, mesh guard", base),
    ]


def count_meshes(figures: CrowdFigures, people: Sequence, duplicate_iou: float) -> None:
    figures.meshes += len(people)
    figures.broken += sum(mesh_is_broken(p.vertices) for p in people)
    if len(people) > 1:
        v = np.stack([p.vertices[:, :2] for p in people])
        tight = np.concatenate([v.min(1), v.max(1)], axis=1)
        figures.shared += int(duplicate_meshes(tight, duplicate_iou).sum())


def run(
    shared: Path | None,
    images: Sequence[str],
    videos: Sequence[str],
    frames: int,
    model: str | None,
    threads: int,
    max_people: int,
) -> str:
    root = shared or DEFAULT_SHARED_ROOT
    base = PipelineConfig(
        tracker=TrackerConfig(max_tracks=max_people), render=RenderConfig(layers=())
    )
    base = replace(base, network=replace(base.network, threads=threads, **(
        {"model": model} if model else {}
    )))  # fmt: skip
    dup = base.guard.duplicate_iou
    lines = [
        f"{len(images)} crowded photos, first {frames} frames of {len(videos)} clips; "
        f"max {max_people} people",
        "",
        "| configuration | meshes drawn | broken drawn | second mesh on one person drawn "
        "| withheld by the guard | weak detections not vetted | track ids per clip |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, config in configurations(base):
        figures = CrowdFigures()
        with Pipeline(config) as pipe:
            for name in images:
                pipe.reset()
                count_meshes(figures, pipe.process(read_image(root / name)).people, dup)
            for name in videos:
                pipe.reset()
                ids: set[int] = set()
                with VideoSource(root / name) as source:
                    for frame in itertools.islice(source, frames):
                        people = pipe.process(frame).people
                        count_meshes(figures, people, dup)
                        ids |= {p.track_id for p in people}
                figures.ids[Path(name).stem] = len(ids)
            figures.withheld = pipe.rejected["broken"] + pipe.rejected["duplicate"]
            figures.weak = pipe.rejected["weak"]
        ids = ", ".join(f"{k} {v}" for k, v in figures.ids.items())
        lines.append(
            f"| {label} | {figures.meshes} | {figures.broken} | {figures.shared} | "
            f"{figures.withheld} | {figures.weak} | {ids} |"
        )
        print(lines[-1], flush=True)
    report = "\n".join(lines)
    print("\n" + report)
    return report
