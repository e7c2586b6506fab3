import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from paistudio.model.config import DitConfig, preset  # noqa: E402
from paistudio.model.packing import (ROLE_CONDITION, ROLE_REFERENCE, latent_frames, latent_index,  # noqa: E402
                                     make_layout, token_counts)
from paistudio.model.transformer import PaiStudioTransformer  # noqa: E402


def _inputs(cfg, b=1, f=3, h=8, w=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = cfg.latent_channels
    x = torch.randn(b, c, f, h, w, generator=g)
    text = torch.randn(b, 5, cfg.wan["text_dim"], generator=g)
    cond = torch.randn(b, c, f, h, w, generator=g)
    refs = torch.randn(b, 3, c, h, w, generator=g)
    return x, text, cond, refs


def _model(cfg, seed=0):
    torch.manual_seed(seed)
    m = PaiStudioTransformer(cfg).eval()
    with torch.no_grad():  # non-zero role vectors, so tests see them matter
        if m.role is not None:
            m.role.normal_(0, 0.5)
    return m


def test_without_conditions_equals_the_stock_wan_forward():
    cfg = preset("tiny")
    torch.manual_seed(0)
    m = PaiStudioTransformer(cfg).eval()
    x, text, _, _ = _inputs(cfg, b=2)
    t = torch.tensor([999.0, 250.0])
    with torch.no_grad():
        ours = m(x, t, text)
        stock = m.wan(x, t, text, return_dict=False)[0]
    assert ours.shape == x.shape
    assert torch.allclose(ours, stock, atol=1e-5), (ours - stock).abs().max()


def test_output_is_the_target_only_and_conditions_matter():
    cfg = preset("tiny")
    m = _model(cfg)
    x, text, cond, refs = _inputs(cfg)
    t = torch.tensor([500.0])
    with torch.no_grad():
        plain = m(x, t, text)
        full = m(x, t, text, condition=cond, references=refs, ref_t=[0, 1, 2])
        other_cond = m(x, t, text, condition=cond + 1, references=refs, ref_t=[0, 1, 2])
    assert full.shape == x.shape
    assert (full - plain).abs().max() > 1e-3 and (full - other_cond).abs().max() > 1e-3


def test_per_token_timesteps_are_honoured():
    cfg = preset("tiny")
    m = _model(cfg)
    x, text, cond, refs = _inputs(cfg)
    n_d = 3 * 4 * 4
    with torch.no_grad():
        scalar = m(x, torch.tensor([400.0]), text, condition=cond, references=refs[:, :1], ref_t=[0])
        same = m(x, torch.full((1, n_d), 400.0), text, condition=cond, references=refs[:, :1], ref_t=[0])
        varied_t = torch.full((1, n_d), 400.0)
        varied_t[0, :16] = 0.0  # the first latent frame is clean
        varied = m(x, varied_t, text, condition=cond, references=refs[:, :1], ref_t=[0])
    assert torch.allclose(scalar, same, atol=1e-6)
    assert (varied - same).abs().max() > 1e-3
    with pytest.raises(ValueError, match="timestep must be"):
        m(x, torch.zeros(1, 7), text)


def test_condition_and_reference_tokens_get_timestep_zero(monkeypatch):
    cfg = preset("tiny")
    m = _model(cfg)
    x, text, cond, refs = _inputs(cfg)
    seen = {}
    original = m.wan.condition_embedder.forward

    def spy(timestep, *a, **k):
        seen["t"] = timestep.clone()
        return original(timestep, *a, **k)

    monkeypatch.setattr(m.wan.condition_embedder, "forward", spy)
    with torch.no_grad():
        m(x, torch.tensor([700.0]), text, condition=cond, references=refs[:, :2], ref_t=[0, 2])
    n_d, n_c, n_r = 48, 48, 32
    t = seen["t"]
    assert t.shape == (n_d + n_c + n_r,)
    assert (t[:n_d] == 700).all() and (t[n_d:] == 0).all()


@pytest.mark.parametrize("n_frames,anchors", [(9, [0, 8]), (81, [0, 40, 80]), (33, [0, 16, 32]), (13, [5])])
def test_each_reference_takes_the_time_id_of_its_anchor_latent(n_frames, anchors):
    cfg = preset("wan2.1-1.3b")
    f = latent_frames(n_frames, 4)
    ref_t = [latent_index(a, 4) for a in anchors]
    lay = make_layout(cfg, (f, 3, 5), True, ref_t)
    ref_ids = lay.ids[lay.roles == ROLE_REFERENCE].reshape(len(anchors), 15, 3)
    for k, t in enumerate(ref_t):
        assert (ref_ids[k, :, 0] == t).all()
        assert torch.equal(ref_ids[k, :, 1:], lay.ids[:15, 1:])  # the video's spatial grid
    if anchors[-1] == n_frames - 1:
        assert ref_t[-1] == f - 1  # the last frame's reference sits on the last latent frame
    assert latent_index(0, 4) == 0 and latent_index(4, 4) == 1 and latent_index(5, 4) == 2


def test_sequential_references_sit_after_the_video():
    cfg = preset("tiny", ref_time="sequential")
    lay = make_layout(cfg, (9, 4, 4), True, [0, 4, 8])
    t = lay.ids[lay.roles == ROLE_REFERENCE][:, 0].reshape(3, 16)
    assert t[:, 0].tolist() == [9.0, 10.0, 11.0]


def test_condition_ids_shared_offset_and_pooled():
    shared = make_layout(preset("tiny"), (4, 4, 4), True, [])
    c = shared.ids[shared.roles == ROLE_CONDITION]
    assert torch.equal(c, shared.ids[:64])
    offset = make_layout(preset("tiny", cond_position="offset"), (4, 4, 4), True, [])
    c = offset.ids[offset.roles == ROLE_CONDITION]
    assert torch.equal(c[:, 0], shared.ids[:64, 0] + 4) and torch.equal(c[:, 1:], shared.ids[:64, 1:])
    pooled = make_layout(preset("tiny", cond_downsample=(2, 2)), (4, 4, 4), True, [])
    c = pooled.ids[pooled.roles == ROLE_CONDITION]
    assert len(c) == 2 * 2 * 2
    assert sorted(set(c[:, 0].tolist())) == [0.5, 2.5] and sorted(set(c[:, 1].tolist())) == [0.5, 2.5]


def test_pooled_condition_runs_and_counts_tokens():
    cfg = preset("tiny", cond_downsample=(2, 2))
    m = _model(cfg)
    x, text, cond, refs = _inputs(cfg, f=3)
    with torch.no_grad():
        out = m(x, torch.tensor([10.0]), text, condition=cond, references=refs, ref_t=[0, 1, 2])
    assert out.shape == x.shape
    assert m.layout(x.shape, True, [0, 1, 2]).counts == {"target": 48, "condition": 8, "references": 48, "total": 104}


def test_token_counts_for_real_jobs():
    cfg = preset("wan2.1-1.3b")
    c = token_counts(cfg, 81, 480, 832, 3, 4, 8)
    assert c == {"target": 21 * 30 * 52, "condition": 21 * 30 * 52, "references": 3 * 30 * 52,
                 "total": 45 * 30 * 52}
    c = token_counts(preset("wan2.1-1.3b", cond_downsample=(1, 2)), 81, 480, 832, 3, 4, 8)
    assert c["condition"] == 21 * 15 * 26
    c = token_counts(preset("wan2.1-14b", cond_downsample=(2, 2)), 81, 720, 1280, 3, 4, 8)
    assert c["target"] == 21 * 45 * 80 and c["condition"] == 11 * 23 * 40  # odd grids keep a partial cell


def test_token_pooling_averages_each_cell_of_condition_tokens():
    cfg = preset("tiny", cond_downsample=(1, 2))
    m = _model(cfg)
    lat = torch.randn(1, 48, 2, 8, 8)
    with torch.no_grad():
        tokens = m.wan.patch_embedding(lat)  # [1, D, 2, 4, 4]
        pooled = m.pool_tokens(tokens)  # [1, D, 2, 2, 2]
    explicit = tokens.unfold(3, 2, 2).unfold(4, 2, 2).mean((-1, -2))
    assert pooled.shape[2:] == (2, 2, 2) and torch.allclose(pooled, explicit, atol=1e-6)


def test_odd_token_grids_pool_with_a_partial_edge_cell():
    cfg = preset("tiny", cond_downsample=(2, 2))
    m = _model(cfg)
    x, text, cond, _ = _inputs(cfg, f=3, h=10, w=6)  # 5 x 3 tokens per frame
    with torch.no_grad():
        out = m(x, torch.tensor([10.0]), text, condition=cond)
    assert out.shape == x.shape
    assert m.layout(x.shape, True, []).counts["condition"] == 2 * 3 * 2


def test_bad_layouts_are_named():
    cfg = preset("tiny")
    with pytest.raises(ValueError, match="outside the target"):
        make_layout(cfg, (3, 4, 4), False, [3])
    with pytest.raises(ValueError, match="at most 3"):
        make_layout(cfg, (9, 4, 4), False, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="ref_time"):
        DitConfig(wan=cfg.wan, ref_time="nope")


def test_config_round_trips_through_json():
    cfg = preset("small-20m", cond_downsample=(1, 2), ref_time="sequential")
    again = DitConfig.from_json(cfg.to_json())
    assert again == cfg


def test_gradient_checkpointing_gives_the_same_gradients():
    cfg = preset("tiny")
    m = _model(cfg).train()
    x, text, cond, refs = _inputs(cfg)

    def grads():
        m.zero_grad()
        m(x, torch.tensor([300.0]), text, condition=cond, references=refs, ref_t=[0, 1, 2]).square().mean().backward()
        return torch.cat([p.grad.flatten() for p in m.parameters() if p.grad is not None])

    plain = grads()
    m.gradient_checkpointing = True
    assert torch.allclose(grads(), plain, atol=1e-6)
