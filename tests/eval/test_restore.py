"""Restore cases: on a synthetic clip folder with a known camera and background, and on a real DAVIS clip
(`real`, skipped when ../shared/data/real is absent)."""

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from paistudio.errors import InputError, ReferenceImageError
from paistudio.eval.cases import build_case
from paistudio.eval.motion import motion_consistency_videos
from paistudio.eval.restore import (Clip, clean_reference, estimate_clip_camera, green_screen,
                                    illumination_perturbation, load_clip, track_clip)
from paistudio.io.video import probe, read_chunks
from tests.media import write_clip_folder, write_sequence

W, H, N = 240, 144, 24
REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
REAL_CLIP = REAL / "davis16_kite-surf"


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """Frames = a textured world seen through a known camera path + a walking figure (binary mask)."""
    return write_clip_folder(tmp_path_factory.mktemp("clip") / "clip", W, H, N)


@pytest.fixture(scope="module")
def clip(clip_folder):
    return load_clip(clip_folder[0])


def _corner_error(a, b, w=W, h=H):
    c = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], float).T
    pa, pb = a @ c, b @ c
    return np.abs(pa[:2] / pa[2] - pb[:2] / pb[2]).mean()


def test_load_clip(clip):
    assert clip.frames.shape == (N, H, W, 3) and clip.frames.dtype == np.uint8
    assert clip.masks.shape == (N, H, W) and set(np.unique(clip.masks)) == {0, 255}


def test_camera_estimate_matches_truth(clip, clip_folder):
    path = clip_folder[1]
    est = estimate_clip_camera(clip)
    err = np.mean([_corner_error(est[t], path[t]) for t in range(N)])
    assert err < 2.0, err  # measured ≈ 0.04 px (max 0.12)
    assert track_clip(clip).reliable


def test_clean_reference_recovers_hidden_background(clip, clip_folder):
    path, bgs = clip_folder[1], clip_folder[2]
    t = N // 2
    ref = clean_reference(clip, path, t)
    hidden = clip.masks[t] > 0
    err = np.abs(ref.astype(float) - bgs[t].astype(float)).mean(-1)[hidden].mean()
    assert err < 5.0, err  # measured ≈ 0.8 grey levels (2.8 at frame 0, where more is hidden in the others)
    assert np.abs(ref.astype(float) - clip.frames[t].astype(float)).mean(-1)[hidden].mean() > 5 * err
    with pytest.raises(ReferenceImageError, match="outside"):
        clean_reference(clip, path, N)


def test_green_screen_markers_move_with_the_camera(clip, clip_folder):
    path = clip_folder[1]
    frames, alpha = green_screen(clip, path, "markers", seed=2)
    assert frames.shape == clip.frames.shape and alpha.shape == clip.masks.shape
    assert np.abs(alpha - clip.masks / 255).mean() < 0.05
    query = np.where(clip.masks[0] > 0, 0, 255).astype(np.uint8)
    mc = motion_consistency_videos(frames, clip.frames, query, masks=clip.masks)
    assert mc > 0.9, mc  # measured ≈ 0.99
    retracked = estimate_clip_camera(Clip("screen", frames, clip.masks))  # the crosses alone give the camera back
    err = np.mean([_corner_error(retracked[t], path[t]) for t in range(N)])
    assert err < 2.0, err
    flat, _ = green_screen(clip, path, "flat", seed=2)
    bg = alpha[0] == 0
    assert flat[0][bg].std(axis=0).max() < 8  # flat: no texture to track
    assert not track_clip(Clip("flat", flat, clip.masks)).reliable
    with pytest.raises(ValueError, match="backing"):
        green_screen(clip, path, "blue")


def test_green_screen_spill_tints_the_edge(clip, clip_folder):
    path = clip_folder[1]
    clean, alpha = green_screen(clip, path, "flat", seed=2, spill=0.0)
    spilled, _ = green_screen(clip, path, "flat", seed=2, spill=0.4)
    inner = cv2.erode(clip.masks[0], np.ones((7, 7), np.uint8)) > 0
    edge = (alpha[0] > 0.5) & ~inner
    greenness = lambda f: (f[..., 1].astype(float) - f[..., 0].astype(float))  # noqa: E731
    assert greenness(spilled[0])[edge].mean() > greenness(clean[0])[edge].mean() + 5
    deep = cv2.erode(clip.masks[0], np.ones((21, 21), np.uint8)) > 0  # 10 px inside: the screen light is gone
    assert deep.any() and np.abs(spilled[0][deep].astype(int) - clean[0][deep]).max() <= 1


def test_illumination_perturbation_touches_only_the_foreground(clip, clip_folder):
    frames, alpha = green_screen(clip, clip_folder[1], "markers", seed=2)
    a, pa = illumination_perturbation(frames, alpha, seed=5)
    b, pb = illumination_perturbation(frames, alpha, seed=5)
    c, pc = illumination_perturbation(frames, alpha, seed=6)
    assert np.array_equal(a, b) and pa == pb and pa != pc
    assert np.array_equal(a[alpha == 0], frames[alpha == 0])  # the backing is untouched
    solid = alpha == 1
    assert np.abs(a[solid].astype(float) - frames[solid].astype(float)).mean() > 5
    assert not np.array_equal(a[solid], c[solid])
    json.dumps(pa)  # recordable as is
    assert {"exposure_ev", "white_balance_gains", "gamma", "contrast", "gradient"} <= set(pa)


def test_build_case_writes_everything_deterministically_and_caches(clip_folder, tmp_path):
    folder = clip_folder[0]
    out = build_case(folder, tmp_path / "a", "markers", seed=1)
    for f in ("foreground.mp4", "gt.mp4", "camera_gt.json", "case.json", "refs/begin.png", "refs/middle.png",
              "refs/end.png"):
        assert (out / f).is_file(), f
    assert len(list((out / "mask").glob("*.png"))) == N
    case = json.loads((out / "case.json").read_text())
    assert case["anchors"] == {"begin": 0, "middle": (N - 1) // 2, "end": N - 1}
    assert case["backing"] == "markers" and case["seed"] == 1 and case["frames"] == N and case["version"] >= 1
    assert {"exposure_ev", "gradient"} <= set(case["perturbation"]) and case["camera"]["reliable"]
    for name in ("foreground.mp4", "gt.mp4"):
        info = probe(out / name)
        assert (info.n_frames, info.width, info.height) == (N, W, H)
    gt = np.concatenate(list(read_chunks(probe(out / "gt.mp4"))))
    grey = lambda f: np.stack([cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in f]).astype(float)  # noqa: E731
    assert np.abs(grey(gt) - grey(load_clip(folder).frames)).mean() < 2  # near-lossless luma (4:2:0 chroma blurs the noise)
    cam = json.loads((out / "camera_gt.json").read_text())
    assert len(cam["frames"]) == N

    again = build_case(folder, tmp_path / "b", "markers", seed=1)  # deterministic
    for f in ("foreground.mp4", "gt.mp4", "camera_gt.json", "case.json", "refs/middle.png", "mask/00005.png"):
        assert (out / f).read_bytes() == (again / f).read_bytes(), f

    stamp = (out / "foreground.mp4").stat().st_mtime_ns
    t0 = time.perf_counter()
    build_case(folder, out, "markers", seed=1)  # cached: nothing rebuilt
    assert time.perf_counter() - t0 < 0.5 and (out / "foreground.mp4").stat().st_mtime_ns == stamp
    build_case(folder, out, "markers", seed=2, refs=(0, N - 1))  # other settings: rebuilt
    case = json.loads((out / "case.json").read_text())
    assert case["seed"] == 2 and case["anchors"] == {"begin": 0, "end": N - 1}
    assert not (out / "refs" / "middle.png").exists()
    with pytest.raises(ReferenceImageError):
        build_case(folder, tmp_path / "c", "flat", refs=(0, N))


def test_bad_clip_folders(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_clip(tmp_path / "nope")
    with pytest.raises(InputError, match="frames/"):
        load_clip(tmp_path)
    write_sequence(tmp_path / "frames", [np.zeros((8, 8, 3), np.uint8)] * 2)
    clip = load_clip(tmp_path)  # masks are optional for loading ...
    assert clip.masks is None and clip.frames.shape == (2, 8, 8, 3)
    with pytest.raises(InputError, match="no masks"):  # ... but a restore case needs them
        estimate_clip_camera(clip)
    with pytest.raises(InputError, match="no masks"):
        build_case(tmp_path, tmp_path / "case")
    write_sequence(tmp_path / "masks", [np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(InputError, match="1 images for 2 frames"):
        load_clip(tmp_path)
    write_sequence(tmp_path / "masks", [np.zeros((6, 8, 3), np.uint8)] * 2)
    with pytest.raises(InputError, match="must match their frames"):
        load_clip(tmp_path)
    write_sequence(tmp_path / "frames", [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)])
    with pytest.raises(InputError, match="one size"):
        load_clip(tmp_path)


# ---------------------------------------------------------------------------------------------- real footage

@pytest.fixture(scope="module")
def real_cases(tmp_path_factory):
    if not REAL_CLIP.is_dir():
        pytest.skip("../shared/data/real is absent")
    d = tmp_path_factory.mktemp("real")
    seconds = {}
    for backing in ("markers", "flat"):
        t0 = time.perf_counter()
        build_case(REAL_CLIP, d / backing, backing, seed=0)
        seconds[backing] = time.perf_counter() - t0  # measured ≈ 4-5 s each (50 frames, 854x480)
    return d, load_clip(REAL_CLIP), seconds


@pytest.mark.real
@pytest.mark.parametrize("backing", ["markers", "flat"])
def test_real_case_files(real_cases, backing):
    d, clip, seconds = real_cases
    out = d / backing
    t, h, w = clip.frames.shape[:3]
    for name in ("foreground.mp4", "gt.mp4"):
        info = probe(out / name)
        assert (info.n_frames, info.width, info.height) == (t, w, h), name
    assert len(list((out / "mask").glob("*.png"))) == t
    case = json.loads((out / "case.json").read_text())
    assert case["backing"] == backing and case["frames"] == t and case["camera"]["reliable"]
    assert seconds[backing] < 30, seconds


@pytest.mark.real
def test_real_references_have_no_foreground_left(real_cases):
    d, clip, _ = real_cases
    case = json.loads((d / "markers" / "case.json").read_text())
    for name, t in case["anchors"].items():
        ref = cv2.cvtColor(cv2.imread(str(d / "markers" / "refs" / f"{name}.png")), cv2.COLOR_BGR2RGB)
        assert ref.shape == clip.frames[t].shape
        hole = clip.masks[t] > 0
        diff = np.abs(ref.astype(int) - clip.frames[t].astype(int)).mean(-1)
        assert diff[hole].mean() > 20, (name, diff[hole].mean())  # the subject is gone
        assert diff[cv2.dilate(clip.masks[t], np.ones((41, 41), np.uint8)) == 0].max() == 0  # the rest untouched


@pytest.mark.real
def test_real_markers_move_with_the_real_camera(real_cases):
    d, clip, _ = real_cases
    fg = np.concatenate(list(read_chunks(probe(d / "markers" / "foreground.mp4"))))
    masks = np.stack([cv2.dilate(m, np.ones((25, 25), np.uint8)) for m in clip.masks])
    mc = motion_consistency_videos(fg, clip.frames, cv2.bitwise_not(masks[0]), masks=masks)
    assert mc > 0.9, mc  # measured 0.93 (the sea moves on its own), a static background scores 0.0
