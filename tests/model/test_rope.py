import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed  # noqa: E402

from paistudio.model.packing import grid_ids  # noqa: E402
from paistudio.model.rope import ExplicitRope, axis_dims  # noqa: E402


@pytest.mark.parametrize("head_dim,grid", [(128, (5, 6, 7)), (32, (9, 4, 4)), (64, (3, 11, 2))])
def test_explicit_rope_equals_diffusers_on_the_plain_grid(head_dim, grid):
    f, h, w = grid
    theirs = WanRotaryPosEmbed(head_dim, (1, 2, 2), max_seq_len=1024)
    cos_d, sin_d = theirs(torch.zeros(1, 16, f, 2 * h, 2 * w))  # [1, L, 1, head_dim]
    cos, sin = ExplicitRope(head_dim)(grid_ids(f, h, w))
    assert cos.shape == cos_d.shape == (1, f * h * w, 1, head_dim)
    assert torch.allclose(cos, cos_d.float(), atol=1e-6) and torch.allclose(sin, sin_d.float(), atol=1e-6)


def test_wan_axis_split():
    assert axis_dims(128) == (44, 42, 42)


def test_moving_a_token_in_time_changes_only_the_temporal_channels():
    rope = ExplicitRope(128)
    a = torch.tensor([[0.0, 3.0, 4.0]])
    b = torch.tensor([[7.0, 3.0, 4.0]])
    (ca, _), (cb, _) = rope(a), rope(b)
    diff = (ca - cb).abs()[0, 0, 0]
    assert diff[:44].max() > 0.1 and diff[44:].max() == 0


def test_relative_positions_only():
    """RoPE scores depend on id differences: shifting every id by the same amount keeps q.k."""
    rope = ExplicitRope(32)
    q, k = torch.randn(1, 2, 1, 32), torch.randn(1, 2, 1, 32)
    ids = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.5, 1.0]])

    def rotate(x, cos, sin):
        x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
        c, s = cos[..., 0::2], sin[..., 1::2]
        return torch.stack([x1 * c - x2 * s, x1 * s + x2 * c], -1).flatten(-2)

    def score(ids):
        cos, sin = rope(ids)
        return (rotate(q, cos, sin)[0, 0] * rotate(k, cos, sin)[0, 1]).sum()

    assert torch.allclose(score(ids), score(ids + torch.tensor([5.0, -2.0, 9.0])), atol=1e-4)
