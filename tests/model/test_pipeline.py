import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from paistudio.model.checkpoint import tiny_bundle  # noqa: E402
from paistudio.model.pipeline import DitPipeline, Window, make_scheduler, paste_back, windows  # noqa: E402


@pytest.fixture(scope="module")
def pipe():
    return DitPipeline(tiny_bundle())


def _inputs(f=9, size=32, seed=0):
    rng = np.random.default_rng(seed)
    cond = rng.integers(0, 256, (f, size, size, 3), dtype=np.uint8)
    refs = rng.integers(0, 256, (3, size, size, 3), dtype=np.uint8)
    return cond, refs, [0, f // 2, f - 1]


def test_sampling_is_seeded_and_shaped(pipe):
    cond, refs, anchors = _inputs()
    a = pipe(cond, refs, anchors, {"caption": "a disc"}, steps=3, guidance=3.0, seed=5)
    b = pipe(cond, refs, anchors, {"caption": "a disc"}, steps=3, guidance=3.0, seed=5)
    c = pipe(cond, refs, anchors, {"caption": "a disc"}, steps=3, guidance=3.0, seed=6)
    assert a.shape == cond.shape and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_guidance_mixes_the_two_prompt_branches_with_conditions_in_both(pipe, monkeypatch):
    cond, refs, anchors = _inputs()
    calls = []
    original = pipe.model.forward

    def spy(x, t, text, condition=None, references=None, ref_t=()):
        calls.append((x.shape[0], condition.shape[0], references.shape[0], tuple(ref_t)))
        return original(x, t, text, condition=condition, references=references, ref_t=ref_t)

    monkeypatch.setattr(pipe.model, "forward", spy)
    pipe(cond, refs, anchors, "a prompt", steps=2, guidance=4.0)
    assert calls == [(2, 2, 2, (0, 4, 8))] * 2  # one batched call per step: prompt and empty prompt
    calls.clear()
    pipe(cond, refs, anchors, "a prompt", steps=2, guidance=1.0)
    assert calls == [(1, 1, 1, (0, 4, 8))] * 2


def test_unipc_and_euler_schedules_use_the_shift():
    for name in ("euler", "unipc"):
        s = make_scheduler(name, 3.0)
        s.set_timesteps(10)
        assert len(s.timesteps) == 10
        # shift 3 keeps most steps at high noise: the middle step is above 500
        assert float(s.timesteps[5]) > 500
    with pytest.raises(ValueError, match="unknown sampler"):
        make_scheduler("ddim", 3.0)


def test_check_inputs_names_the_problem(pipe):
    cond, refs, anchors = _inputs()
    with pytest.raises(ValueError, match="multiple of 8"):
        pipe(cond[:, :30, :30], refs[:, :30, :30], anchors, steps=1)
    with pytest.raises(ValueError, match="must match the frame size"):
        pipe(cond, refs[:, :16, :16], anchors, steps=1)
    with pytest.raises(ValueError, match="one anchor each"):
        pipe(cond, refs, anchors[:2], steps=1)
    with pytest.raises(ValueError, match="must lie in"):
        pipe(cond, refs, [0, 4, 9], steps=1)


def test_windows_reanchor_references():
    assert windows(9, [0, 4, 8], 9, 2) == [Window(0, 9, (0, 1, 2), (0, 4, 8))]
    plan = windows(30, [0, 15, 29], 12, 4)
    assert [(w.start, w.stop) for w in plan] == [(0, 12), (8, 20), (16, 28), (18, 30)]
    assert plan[0].refs == (0,) and plan[0].anchors == (0,)
    assert plan[1].refs == (1,) and plan[1].anchors == (7,)
    assert plan[3].refs == (2,) and plan[3].anchors == (11,)
    # a window with no anchor inside takes the nearest reference at its nearer edge
    far = windows(40, [0, 39], 10, 0)
    assert far[1] == Window(10, 20, (0,), (0,)) and far[2] == Window(20, 30, (1,), (9,))


def test_stream_covers_every_frame_once_and_crossfades(pipe):
    f = 20
    cond, refs, _ = _inputs(f)
    asked = []

    def frames(start, stop):
        asked.append((start, stop))
        return cond[start:stop]

    out = list(pipe.stream(frames, f, refs[:2], [0, f - 1], "x", window=9, overlap=3, steps=1, guidance=1.0))
    assert sum(len(o) for o in out) == f
    assert asked == [(0, 9), (6, 15), (11, 20)]
    whole = np.concatenate(out)
    assert whole.shape == cond.shape


def test_paste_back_keeps_the_opaque_core_and_the_model_edges():
    gen = np.full((40, 40, 3), 10, np.uint8)
    fg = np.full((40, 40, 3), 200, np.uint8)
    alpha = np.zeros((40, 40), np.float32)
    alpha[4:36, 4:36] = 1.0
    alpha[3, 4:36] = 0.5
    out = paste_back(gen, fg, alpha, feather_px=3)
    assert (out[16:24, 16:24] == 200).all()  # deep inside: the original foreground
    assert (out[:6] == 10).all()  # outside, the soft edge and the core's rim: the model's pixels
    assert 10 < out[10, 20, 0] < 200  # then the feathered blend


def test_sampling_through_the_wan_vae_keeps_the_frame_count(tmp_path):
    from paistudio.model.checkpoint import from_wan

    from .wan_folder import save_tiny_wan

    bundle = from_wan(save_tiny_wan(tmp_path / "wan"))
    cond, refs, _ = _inputs(f=10, size=32)  # 10 frames: not 1 + 4k, so the last frame is repeated to 13
    video = DitPipeline(bundle)(cond, refs[:2], [0, 9], "a street", steps=2, guidance=2.0)
    assert video.shape == (10, 32, 32, 3)
