"""What ``MeshPoseNet`` returns: the raw head outputs and the mesh decoded from them.

Frozen dataclasses of tensors (as DensePose's chart predictor output) rather than dicts: a
field is named once, so a typo fails at import time, not in the middle of training. They
hold references only (no copies), and a tracer (ONNX, torch.export) sees plain tensors
inside a traced function.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RawOutputs:
    """``MeshPoseNet.forward``: what the losses and the decoding read, no post-processing.

    scores (B, V, H/4, W/4): VertexPose score maps (logits of each vertex's spatial softmax);
    fg_logit (B, 1, H/4, W/4): foreground logit; x_logits, y_logits, z_logits (B, V, bins):
    the regression head's 1D bin logits; vis_logit (B, V): its visibility logit; lifted
    (B, V, 3): the keypoint lifter's vertices (crop px, depth), None without a lifter.
    """

    scores: torch.Tensor
    fg_logit: torch.Tensor
    x_logits: torch.Tensor
    y_logits: torch.Tensor
    z_logits: torch.Tensor
    vis_logit: torch.Tensor
    lifted: torch.Tensor | None = None

    def float(self) -> RawOutputs:
        """Every field as float32 (after fp16 autocast; float32 fields are kept, not copied)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return RawOutputs(**{k: v if v is None else v.float() for k, v in fields.items()})


@dataclass(frozen=True)
class DecodedMesh:
    """``MeshPoseNet.decode``: crop-pixel geometry (top-left pixel centre = (0, 0)).

    vertices (B, V, 3): visibility-fused x, y and regressed z (pixels, relative depth);
    visibility (B, V) in [0, 1] and its logit vis_logit (B, V) (the regression's plus the
    mesh's facing term, what the visibility loss reads); xy_vertexpose, xy_regressed
    (B, V, 2): the two XY estimates before fusion; foreground (B, H/4, W/4) in [0, 1]: the
    person's mask on the score-map cells; iuv (B, 3, H/4, W/4) float (I 0..24, U, V) when
    asked for, else None.
    """

    vertices: torch.Tensor
    visibility: torch.Tensor
    vis_logit: torch.Tensor
    xy_vertexpose: torch.Tensor
    xy_regressed: torch.Tensor
    foreground: torch.Tensor
    iuv: torch.Tensor | None = None
