"""Heads: output shapes, per-axis independence of the regression head, beta handling."""

from __future__ import annotations

import pytest
import torch

from meshpose_core.model.heads import (
    RegressionHead,
    RegressionHeadConfig,
    VertexPoseHead,
    VertexPoseHeadConfig,
)

C, V, BINS = 8, 5, 12


def test_vertexpose_head_shapes_and_fixed_beta() -> None:
    head = VertexPoseHead(C, V, VertexPoseHeadConfig(width=6, num_convs=2, beta=3.0))
    scores, fg = head(torch.randn(2, C, 7, 9))
    assert scores.shape == (2, V, 7, 9) and fg.shape == (2, 1, 7, 9)
    assert head.beta.item() == pytest.approx(3.0)
    assert "log_beta" not in dict(head.named_parameters())  # fixed: a buffer, not learned
    assert "log_beta" in head.state_dict()
    direct = VertexPoseHead(C, V, VertexPoseHeadConfig(num_convs=0))
    assert direct.out.in_channels == C
    with pytest.raises(ValueError, match="beta"):
        VertexPoseHead(C, V, VertexPoseHeadConfig(beta=0.0))


def test_regression_head_axes_are_independent() -> None:
    torch.manual_seed(0)
    head = RegressionHead(C, V, RegressionHeadConfig(bins=BINS)).eval()
    features = torch.randn(2, C, 4, 4)
    before = head(features)
    assert before["x_logits"].shape == (2, V, BINS) and before["vis_logit"].shape == (2, V)
    rows = C * BINS  # psi rows of one axis
    with torch.no_grad():
        head.psi.weight[rows : 2 * rows].normal_()  # perturb the y axis only
        after = head(features)
    torch.testing.assert_close(after["x_logits"], before["x_logits"])
    torch.testing.assert_close(after["z_logits"], before["z_logits"])
    assert not torch.allclose(after["y_logits"], before["y_logits"])


def test_regression_head_sees_only_pooled_features() -> None:
    torch.manual_seed(0)
    head = RegressionHead(C, V, RegressionHeadConfig(bins=BINS)).eval()
    features = torch.randn(1, C, 4, 4)
    shuffled = features.flatten(2)[..., torch.randperm(16)].reshape(1, C, 4, 4)
    a, b = head(features), head(shuffled)
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    torch.testing.assert_close(a["vis_logit"], a["z_logits"].mean(dim=-1))
