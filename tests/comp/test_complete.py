"""Matte completion on synthetic plain footage with known answers: a textured figure walking over a textured
background that the camera pans across; its matte cuts the left leg off in every frame (as `eval.defects`'s
dropped limb does), so no neighbouring frame has it and only the frame itself can give it back."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from paistudio.comp.complete import CompleteSettings, MatteCompleter
from paistudio.errors import FormatError, InputError
from tests.comp.test_repair import SKIN, drop_leg, subject
from tests.media import composite_linear, textured_background

W, H = 320, 240
PAN = 2.0  # px per frame the camera moves right (the background moves left)
WALK = 6.0  # px per frame the figure walks right in the frame
WORLD = textured_background(2 * W, H, seed=3)


def homographies(n):
    """Frame-0 background -> frame t: the camera pans right, so the background moves left."""
    return np.stack([np.array([[1, 0, -PAN * t], [0, 1, 0], [0, 0, 1]], np.float64) for t in range(n)])


def background(t, world=WORLD):
    return np.ascontiguousarray(world[:, int(PAN * t):int(PAN * t) + W])


def frames(n, world=WORLD):
    """Per frame: (rgb frame, true alpha)."""
    for t in range(n):
        rgb, alpha = subject(WALK * t)
        yield composite_linear(rgb, alpha.astype(np.float32) / 255, background(t, world)), alpha


def run(n, damage, settings=CompleteSettings(), world=WORLD):
    c = MatteCompleter(homographies(n), (W, H), settings)
    return c, [(alpha, bad, c.complete(frame, bad, t))
               for t, (frame, alpha) in enumerate(frames(n, world)) for bad in [damage(alpha)]]


def shares(true, out, matte):
    """(share of what the matte lost that came back, background added as a share of the subject's area)."""
    lost = (true > 127) & (matte <= 127)
    outside = cv2.dilate(true, np.ones((5, 5), np.uint8)) <= 127
    return ((out > 127) & lost).sum() / max(lost.sum(), 1), ((out > 127) & outside).sum() / (true > 127).sum()


def test_a_leg_cut_off_in_every_frame_comes_back_from_the_frame_itself():
    c, res = run(12, drop_leg)
    back, extra = zip(*(shares(a, out, bad) for a, bad, out in res[6:]))
    assert min(back) > 0.7, back  # most of the leg, every frame once the camera check has a past frame
    assert max(extra) < 0.02, extra
    assert c.summary()["frames_completed"] >= 11  # all but the first frame (no past frame to check against)
    assert 0.02 < c.summary()["mean_added_share"] < 0.2


def test_a_clean_matte_gains_almost_nothing():
    _, res = run(10, lambda a: a)
    extra = [shares(a, out, bad)[1] for a, bad, out in res]
    assert max(extra) < 0.01, extra


def test_background_that_looks_like_the_subject_but_moves_with_the_camera_is_not_taken():
    """A stripe of the subject's own texture painted on the background, which the figure walks past: colour alone
    (GrabCut) would add it; the camera check sees it is the background seen again."""
    world = WORLD.copy()
    world[:, 150:170] = SKIN[:H, 150:170]

    def stripe_share(settings):
        _, res = run(12, drop_leg, settings, world)
        taken = []
        for t, (a, bad, out) in enumerate(res[4:], 4):
            stripe = np.zeros((H, W), bool)
            x = 150 - int(PAN * t)
            stripe[:, max(0, x):x + 20] = True
            stripe &= cv2.dilate(a, np.ones((9, 9), np.uint8)) <= 127  # clear of the figure
            taken.append(((out > 127) & stripe).sum() / max(stripe.sum(), 1))
        return max(taken)

    blind = stripe_share(CompleteSettings(still_tol=1e-3))  # nothing ever counts as seen before
    checked = stripe_share(CompleteSettings())
    assert blind > 0.1, blind
    assert checked < 0.25 * blind, (checked, blind)


def test_the_same_input_gives_the_same_matte_in_one_process():
    """GrabCut seeds its colour models from OpenCV's RNG, whose state other calls advance."""
    cv2.setRNGSeed(12345)
    first = np.stack([out for *_, out in run(8, drop_leg)[1]])
    cv2.randu(np.empty((64, 64), np.float32), 0, 1)  # something else draws from the RNG in between
    again = np.stack([out for *_, out in run(8, drop_leg)[1]])
    np.testing.assert_array_equal(first, again)


def test_chunks_on_two_threads_give_the_frame_by_frame_mattes_and_summary():
    """The render pass completes a chunk's frames in parallel; each frame reads only past input frames, so the
    result (and the summary) must be that of one frame at a time, whatever the chunk boundaries."""
    n = 11
    c1, res = run(n, drop_leg)
    one_by_one = np.stack([out for *_, out in res])
    inputs = [(frame, drop_leg(alpha)) for frame, alpha in frames(n)]
    c2 = MatteCompleter(homographies(n), (W, H), workers=2)
    try:
        out, t = [], 0
        for size in (1, 4, 4, 2):  # a single frame, full chunks, a short last chunk
            part = inputs[t:t + size]
            out += c2.complete_chunk([f for f, _ in part], [a for _, a in part], t)
            t += size
        assert c2._pool is not None  # the chunks really ran on the threads
    finally:
        c2.close()
    assert t == n
    np.testing.assert_array_equal(np.stack(out), one_by_one)
    assert (np.stack(out) != np.stack([a for _, a in inputs])).any()  # completion did add something
    assert c2.summary() == c1.summary()


def test_first_frame_and_empty_matte_are_returned_as_given():
    c = MatteCompleter(homographies(3), (W, H))
    frame, alpha = next(frames(1))
    bad = drop_leg(alpha)
    assert c.complete(frame, bad, 0) is bad  # no past frame: nothing can be checked
    empty = np.zeros_like(alpha)
    assert c.complete(frame, empty, 1) is empty
    assert c.summary() == {"frames": 2, "frames_completed": 0, "mean_added_share": 0.0}


def test_bad_settings_and_inputs_are_named():
    with pytest.raises(InputError, match="band"):
        CompleteSettings(band=0)
    with pytest.raises(InputError, match="lags"):
        CompleteSettings(lags=())
    c = MatteCompleter(homographies(2), (W, H))
    frame, alpha = next(frames(1))
    with pytest.raises(FormatError, match="alpha"):
        c.complete(frame, alpha[:10], 0)
    with pytest.raises(FormatError, match="frame"):
        c.complete(frame[..., 0], alpha, 0)


REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"


@pytest.mark.real
@pytest.mark.skipif(not (REAL / "davis16_camel").is_dir(), reason="../shared/data/real is not here")
@pytest.mark.parametrize("name", ["davis16_camel", "davis16_scooter-black"])
def test_real_clip_with_the_benchmarks_defects(name):
    """The bench's defects on a DAVIS mask (first 30 frames, camera tracked outside the damaged masks): completion
    gives back a good part of what the matte lost and adds little background, on damaged and on clean masks."""
    from paistudio.eval.bench import clip_seed
    from paistudio.eval.defects import apply_defects, draw_defects
    from paistudio.eval.restore import Clip, load_clip, track_clip
    whole = load_clip(REAL / name)
    clip = Clip(name, whole.frames[:30], whole.masks[:30], whole.fps)
    params = draw_defects(clip_seed(0, name))
    damaged = np.stack([apply_defects(m, params) for m in clip.masks])
    solid = np.stack([cv2.erode(m, np.ones((7, 7), np.uint8)) > 127 for m in clip.masks])
    outside = np.stack([cv2.dilate(m, np.ones((15, 15), np.uint8)) <= 127 for m in clip.masks])

    def complete(masks):
        h = track_clip(Clip(name, clip.frames, masks, clip.fps)).homographies
        c = MatteCompleter(h, (clip.frames.shape[2], clip.frames.shape[1]))
        return np.stack([c.complete(f, m, t) for t, (f, m) in enumerate(zip(clip.frames, masks))]) > 127

    missed = lambda m: (solid & ~m).sum() / solid.sum()  # noqa: E731
    false = lambda m: (outside & m).sum() / solid.sum()  # noqa: E731
    done, clean = complete(damaged), complete(clip.masks)
    print(f"{name}: missed {missed(damaged > 127):.3f} -> {missed(done):.3f}, "
          f"false {false(damaged > 127):.3f} -> {false(done):.3f}, clean false {false(clean):.3f}")
    assert missed(done) < 0.75 * missed(damaged > 127)
    assert false(done) - false(damaged > 127) < 0.10 and false(clean) < 0.10
