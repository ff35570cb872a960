"""A small BVH (Biovision hierarchy) reader: skeleton, channel orders, Euler angles -> rotations.

Handles the conventions of our mocap archive: CMU Y-up skeletons with ZYX / ZXY channel orders
(3 rotation channels, 6 at the root) and MakeHuman exports with 6 channels on every joint.
End sites become joints without channels (named ``<parent>_end``, ``_end2``...), so bone
directions can be taken to them. Rotations compose as BVH defines: for channels
``Zrotation Xrotation Yrotation`` the local rotation is Rz @ Rx @ Ry, and a child's global
rotation is its parent's times its local one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

_AXES = {"X": 0, "Y": 1, "Z": 2}


class BvhError(ValueError):
    """A file that is not a BVH this reader understands."""


@dataclass(frozen=True)
class BvhClip:
    """One BVH file. J joints (end sites included), C channels, T frames.

    names (J,); parents (J,) int, -1 for the root; offsets (J, 3) in the parent's frame;
    channels: per joint the channel names (e.g. ('Zrotation', 'Xrotation', 'Yrotation'));
    channel_start (J,) column of each joint's first channel; motion (T, C) raw values
    (angles in degrees); frame_time in seconds.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    channel_start: np.ndarray
    motion: np.ndarray
    frame_time: float

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    def index(self, name: str) -> int:
        return self.names.index(name)

    def local_rotations(self, frames: np.ndarray | slice = slice(None)) -> np.ndarray:
        """(T, J, 3, 3) local rotation of every joint (identity where it has none)."""
        m = self.motion[frames]
        out = np.broadcast_to(np.eye(3), (len(m), len(self.names), 3, 3)).copy()
        for j, chans in enumerate(self.channels):
            rot = [(k, c[0]) for k, c in enumerate(chans) if c.endswith("rotation")]
            if rot:
                cols = [self.channel_start[j] + k for k, _ in rot]
                out[:, j] = euler_to_matrix(m[:, cols], "".join(a for _, a in rot))
        return out

    def root_translation(self, frames: np.ndarray | slice = slice(None)) -> np.ndarray:
        """(T, 3) root position channels (zeros when it has none)."""
        m = self.motion[frames]
        out = np.zeros((len(m), 3))
        for k, c in enumerate(self.channels[0]):
            if c.endswith("position"):
                out[:, _AXES[c[0]]] = m[:, self.channel_start[0] + k]
        return out

    def forward_kinematics(self, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Global rotations (T, J, 3, 3) and joint positions (T, J, 3) from local rotations,
        ignoring translations (root at the origin, offsets as bone vectors)."""
        glob = np.empty_like(local)
        pos = np.zeros((*local.shape[:2], 3))
        for j, p in enumerate(self.parents):
            if p < 0:
                glob[:, j] = local[:, j]
            else:
                glob[:, j] = glob[:, p] @ local[:, j]
                pos[:, j] = pos[:, p] + glob[:, p] @ self.offsets[j]
        return glob, pos

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions with every channel at zero (the skeleton's rest pose)."""
        return self.forward_kinematics(np.eye(3)[None, None].repeat(len(self.names), 1))[1][0]


def euler_to_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """(..., k) angles in degrees about the axes in ``order`` (e.g. 'ZXY') -> (..., 3, 3),
    composed left to right (R = R_order[0] @ R_order[1] @ ...)."""
    a = np.deg2rad(angles_deg)
    out = np.broadcast_to(np.eye(3), (*a.shape[:-1], 3, 3)).copy()
    for k, axis in enumerate(order):
        out = out @ axis_rotation(a[..., k], axis)
    return out


def axis_rotation(angle: np.ndarray, axis: str) -> np.ndarray:
    """(...,) radians -> (..., 3, 3) rotation about a coordinate axis."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(angle), np.zeros_like(angle)
    rows = {
        "X": [o, z, z, z, c, -s, z, s, c],
        "Y": [c, z, s, z, o, z, -s, z, c],
        "Z": [c, -s, z, s, c, z, z, z, o],
    }[axis]
    return np.stack(rows, -1).reshape((*angle.shape, 3, 3))


def load_bvh(path: Path) -> BvhClip:
    return parse_bvh(Path(path).read_text())


def parse_bvh(text: str) -> BvhClip:
    """Parse a whole BVH file."""
    head, sep, motion_text = text.partition("MOTION")
    if not sep or "HIERARCHY" not in head:
        raise BvhError("not a BVH file (no HIERARCHY/MOTION sections)")
    names, parents, offsets, channels = _parse_hierarchy(head.split())
    start = np.concatenate([[0], np.cumsum([len(c) for c in channels])[:-1]]).astype(np.int64)
    tokens = motion_text.split()
    try:
        n_frames = int(tokens[tokens.index("Frames:") + 1])
        t_at = tokens.index("Time:")
        frame_time = float(tokens[t_at + 1])
        values = np.array(tokens[t_at + 2 :], dtype=np.float64)
    except (ValueError, IndexError) as exc:
        raise BvhError(f"bad MOTION header: {exc}") from exc
    n_chan = sum(len(c) for c in channels)
    if n_frames * n_chan != values.size:
        raise BvhError(f"{values.size} motion values, expected {n_frames} x {n_chan}")
    return BvhClip(
        names=tuple(names),
        parents=np.array(parents),
        offsets=np.array(offsets, dtype=np.float64),
        channels=tuple(channels),
        channel_start=start,
        motion=values.reshape(n_frames, n_chan),
        frame_time=frame_time,
    )


def _parse_hierarchy(tok: list[str]):
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []
    i = tok.index("HIERARCHY") + 1
    while i < len(tok):
        t = tok[i]
        if t in ("ROOT", "JOINT", "End"):
            parent = stack[-1] if stack else -1
            if t == "End":
                base = names[parent] + "_end"
                name, k = base, 2
                while name in names:
                    name, k = f"{base}{k}", k + 1
            else:
                name = tok[i + 1]
            names.append(name)
            parents.append(parent)
            offsets.append([0.0, 0.0, 0.0])
            channels.append(())
            i += 2
        elif t == "{":
            stack.append(len(names) - 1)
            i += 1
        elif t == "}":
            stack.pop()
            i += 1
        elif t == "OFFSET":
            offsets[-1] = [float(x) for x in tok[i + 1 : i + 4]]
            i += 4
        elif t == "CHANNELS":
            n = int(tok[i + 1])
            channels[-1] = tuple(tok[i + 2 : i + 2 + n])
            i += 2 + n
        else:
            raise BvhError(f"unexpected token {t!r} in HIERARCHY")
    if not names or parents[0] != -1:
        raise BvhError("empty hierarchy")
    return names, parents, offsets, channels
