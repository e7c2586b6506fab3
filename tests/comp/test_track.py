"""Camera motion: tracked backing, aligned references, anchored paths, simple moves and path files."""

import json

import cv2
import numpy as np
import pytest

from paistudio.comp.path import foreground_motion_sample, load_path, path_from_references, save_path, simple_moves
from paistudio.comp.track import BackingTracker, align_references
from paistudio.errors import ShotError
from tests.media import camera_path, centred_crop, green_screen_clip, textured_background, view

W, H, N = 320, 192, 40
GROW = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))


def corners(size=(W, H)):
    w, h = size
    return np.float64([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])


def apply(hom, pts):
    return cv2.perspectiveTransform(np.asarray(pts, np.float64).reshape(-1, 1, 2), hom).reshape(-1, 2)


def corner_error(got, true, size=(W, H)):
    """Mean distance (px) between the frame corners mapped by each pair of homographies."""
    c = corners(size)
    return float(np.mean([np.linalg.norm(apply(a, c) - apply(b, c), axis=1).mean() for a, b in zip(got, true)]))


def track(frames, alpha, scale=1.0, check_backward=True):
    tracker = BackingTracker(scale, check_backward)
    h, w = frames.shape[1:3]
    small = (round(w * scale), round(h * scale))
    for f, a in zip(frames, alpha):
        a8 = (a * 255).astype(np.uint8)
        if scale != 1.0:
            f = cv2.resize(f, small, interpolation=cv2.INTER_AREA)
            a8 = cv2.resize(a8, small, interpolation=cv2.INTER_AREA)
        background = cv2.bitwise_not(cv2.dilate((a8 > 8).astype(np.uint8) * 255, GROW))
        tracker.update(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), background)
    return tracker.result((w, h))


@pytest.fixture(scope="module")
def marker_clip():
    path = camera_path(N, W, H, pan=0.3, zoom=1.15)
    frames, alpha, _, path = green_screen_clip(N, W, H, markers=True, path=path)
    return frames, alpha, path


@pytest.mark.parametrize("scale", [1.0, 0.5])
@pytest.mark.parametrize("check_backward", [True, False])  # keyed footage is tracked without the backward check
def test_tracked_path_matches_true_camera(marker_clip, scale, check_backward):
    frames, alpha, path = marker_clip
    result = track(frames, alpha, scale, check_backward)
    err = corner_error(result.homographies, path)
    print(f"tracked corner error at analysis scale {scale}, backward check {check_backward}: {err:.3f} px "
          f"(median inliers {np.median(result.inliers)})")
    assert result.homographies.shape == (N, 3, 3)
    np.testing.assert_allclose(result.homographies[0], np.eye(3), atol=1e-9)
    assert err < 1.5
    assert result.reliable
    assert result.inliers.shape == (N,) and (result.inliers[1:] >= 15).all()


def test_flat_backing_is_not_reliable():
    path = camera_path(24, 160, 96, pan=0.2)
    frames, alpha, _, _ = green_screen_clip(24, 160, 96, markers=False, path=path)
    result = track(frames, alpha)
    assert not result.reliable
    assert result.homographies.shape == (24, 3, 3) and np.isfinite(result.homographies).all()


def test_tracks_plain_footage_background():
    """No screen at all: the real background's texture carries the camera."""
    world = textured_background(2 * W, 2 * H, seed=5)
    to0 = centred_crop(world.shape[1], world.shape[0], W, H)
    path = camera_path(30, W, H, pan=-0.2, tilt=0.1, zoom=0.9, rotate_deg=3)
    frames = np.stack([view(world, to0, path[t], (W, H)) for t in range(30)])
    result = track(frames, np.zeros(frames.shape[:3], np.float32))
    err = corner_error(result.homographies, path)
    print(f"plain-footage corner error: {err:.3f} px")
    assert result.reliable and err < 1.5


def test_align_references_recovers_homography():
    world = textured_background(2 * W, 2 * H, seed=3)
    to0 = centred_crop(world.shape[1], world.shape[0], W, H)
    true = camera_path(2, W, H, pan=0.2, tilt=-0.1, zoom=1.2, rotate_deg=4)[1]
    true = true @ np.array([[1, 0.02, 0], [0.01, 1, 0], [2e-5, -1e-5, 1]])  # and a little perspective
    ref0, ref1 = view(world, to0, np.eye(3), (W, H)), view(world, to0, true, (W, H))
    other = textured_background(W, H, seed=11)
    aligned = align_references([ref0, ref1, other])
    np.testing.assert_allclose(aligned[0], np.eye(3))
    err = corner_error([aligned[1]], [true])
    print(f"reference alignment corner error: {err:.3f} px")
    assert err < 1.0
    assert aligned[2] is None  # an unrelated picture does not align


def test_path_from_references_hits_anchors_and_is_linear_without_motion():
    true = camera_path(N, W, H, pan=0.25, tilt=0.05, zoom=1.1)
    anchors = [4, 20, 35]
    refs_h = [true[a] @ np.linalg.inv(true[anchors[0]]) for a in anchors]
    path = path_from_references(N, anchors, refs_h, None, (W, H))
    assert path.shape == (N, 3, 3)
    for a, g in zip(anchors, refs_h):
        np.testing.assert_allclose(path[a], g / g[2, 2], atol=1e-12)
    np.testing.assert_allclose(path[: anchors[0] + 1], np.repeat(np.eye(3)[None], anchors[0] + 1, 0), atol=1e-12)
    np.testing.assert_allclose(path[anchors[-1]:], np.repeat(path[anchors[-1]][None], N - anchors[-1], 0))
    c = corners()
    for a, b in zip(anchors, anchors[1:]):
        ca, cb = apply(path[a], c), apply(path[b], c)
        for t in range(a, b + 1):
            s = (t - a) / (b - a)
            np.testing.assert_allclose(apply(path[t], c), (1 - s) * ca + s * cb, atol=1e-6)


def accelerating_camera(n):
    """A pan + zoom whose progress goes as (t / (n-1))^2: slow start, fast end."""
    fine = camera_path(1001, W, H, pan=0.3, zoom=1.2)
    return np.stack([fine[round(1000 * (t / (n - 1)) ** 2)] for t in range(n)])


def test_standing_subject_reveals_camera_speed():
    true = accelerating_camera(N)
    anchors = [0, N - 1]
    refs_h = [true[0], true[-1]]
    foot = np.array([0.4 * W, 0.85 * H])
    zoom = np.sqrt(np.abs(np.linalg.det(true[:, :2, :2])))
    standing = np.column_stack([apply(h, foot)[0] for h in true]).T  # contact point moves with the background
    motion = np.column_stack([standing, 90.0 * zoom])
    motion[7] = np.nan  # a frame where the matte was lost
    linear = path_from_references(N, anchors, refs_h, None, (W, H))
    shaped = path_from_references(N, anchors, refs_h, motion, (W, H))
    e_lin, e_shaped = corner_error(linear, true), corner_error(shaped, true)
    print(f"accelerating camera: linear profile {e_lin:.2f} px, standing-subject profile {e_shaped:.2f} px")
    assert e_shaped < 0.35 * e_lin
    followed = np.tile([[0.5 * W, 0.9 * H, 90.0]], (N, 1))  # subject static in the image: no evidence
    np.testing.assert_allclose(path_from_references(N, anchors, refs_h, followed, (W, H)), linear, atol=1e-9)


def test_path_from_references_rejects_bad_anchors():
    with pytest.raises(ShotError):
        path_from_references(10, [5, 5], [np.eye(3), np.eye(3)], None, (W, H))
    with pytest.raises(ShotError):
        path_from_references(10, [0, 9], [np.eye(3), None], None, (W, H))


def test_foreground_motion_sample():
    alpha = np.zeros((48, 80), np.uint8)
    assert np.isnan(foreground_motion_sample(alpha, 0.5)).all()
    alpha[10:40, 20:31] = 255  # rows 10..39, columns 20..30
    x, y, height = foreground_motion_sample(alpha, 0.5)
    assert x == pytest.approx((25 + 0.5) / 0.5 - 0.5)
    assert y == pytest.approx((39 + 0.5) / 0.5 - 0.5)
    assert height == pytest.approx(30 / 0.5)


def test_simple_moves_matches_camera_convention():
    np.testing.assert_allclose(simple_moves(12, W, H, pan=0.1, tilt=-0.05, zoom=1.3),
                               camera_path(12, W, H, pan=0.1, tilt=-0.05, zoom=1.3), atol=1e-12)
    np.testing.assert_allclose(simple_moves(5, W, H), np.repeat(np.eye(3)[None], 5, 0))


def test_save_load_round_trip(tmp_path):
    path = camera_path(9, W, H, pan=0.2, zoom=1.1, rotate_deg=2)
    f = tmp_path / "cam.json"
    save_path(f, path, {"source": "moves", "width": W, "height": H})
    data = json.loads(f.read_text())
    assert data["format"] == "paistudio.camera_path" and data["version"] == 1
    assert data["convention"] == "H[t] maps frame-0 background pixels to frame t"
    assert (data["width"], data["height"], data["source"]) == (W, H, "moves")
    np.testing.assert_allclose(load_path(f, 9), path, atol=1e-12)
    half = load_path(f, 9, size=(W // 2, H // 2))  # a path made for another resolution is rescaled
    c = corners((W // 2, H // 2))
    np.testing.assert_allclose(apply(half[-1], c), (apply(path[-1], (c + 0.5) * 2 - 0.5) + 0.5) / 2 - 0.5, atol=1e-9)


def _write(tmp_path, frames):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"format": "paistudio.camera_path", "version": 1, "frames": frames}))
    return f


@pytest.mark.parametrize("case", ["count", "nan", "singular", "short", "json", "missing"])
def test_load_path_errors_name_the_camera(tmp_path, case):
    good = [list(np.eye(3).ravel())] * 4
    if case == "count":
        f = _write(tmp_path, good[:3])
    elif case == "nan":
        f = tmp_path / "bad.json"
        save_path(f, np.stack([np.eye(3)] * 3 + [np.full((3, 3), np.nan)]), {})
    elif case == "singular":
        f = _write(tmp_path, good[:3] + [[1, 2, 3, 2, 4, 6, 0, 0, 1]])
    elif case == "short":
        f = _write(tmp_path, good[:3] + [[1, 0, 0, 0, 1, 0]])
    elif case == "json":
        f = tmp_path / "bad.json"
        f.write_text("{not json")
    else:
        f = tmp_path / "nope.json"
    with pytest.raises(ShotError) as e:
        load_path(f, 4)
    assert e.value.field == "camera"
    assert "\n" not in str(e.value)


def _yaw(theta: float) -> np.ndarray:
    """World-to-camera rotation of a camera turned right by `theta` about its y axis (OpenCV axes)."""
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T


def _cameras_file(tmp_path, frames, **top):
    f = tmp_path / "solve.json"
    f.write_text(json.dumps({"frames": frames, **top}))
    return f


def test_solved_camera_pan_moves_the_background_by_f_tan_theta(tmp_path):
    """A tracker's solve (K, R per frame): the camera turns right by 10 degrees, so the frame centre sees what was
    f * tan(10 deg) = 176.3 px to its right (f = 1000), and a zoom from f 1000 to 1200 scales about the centre."""
    k = [[1000, 0, 960], [0, 1000, 540], [0, 0, 1]]
    frames = [{"R": _yaw(np.radians(a)).tolist()} for a in (0, 5, 10)]
    path = load_path(_cameras_file(tmp_path, frames, K=k), 3)
    np.testing.assert_allclose(path[0], np.eye(3), atol=1e-12)
    ahead = np.linalg.inv(path[2]) @ [960, 540, 1]  # frame-0 pixel now seen at the centre
    assert np.allclose(ahead[:2] / ahead[2], [960 + 1000 * np.tan(np.radians(10)), 540], atol=1e-6)
    zoom = [{"K": k, "R": np.eye(3).tolist()}, {"K": [[1200, 0, 960], [0, 1200, 540], [0, 0, 1]], "R": np.eye(3).tolist()}]
    np.testing.assert_allclose(load_path(_cameras_file(tmp_path, zoom), 2)[1] @ [1060, 540, 1], [1080, 540, 1])


def test_solved_camera_move_with_a_background_plane(tmp_path):
    """The camera slides 0.5 units right with the background plane 10 units away: it moves 1000 * 0.5 / 10 = 50 px
    left; without a plane distance (infinitely far) it does not move. OpenGL axes give the same answer."""
    k = [[1000, 0, 960], [0, 1000, 540], [0, 0, 1]]
    frames = [{"R": np.eye(3).tolist(), "t": [0, 0, 0]}, {"R": np.eye(3).tolist(), "t": [-0.5, 0, 0]}]
    near = load_path(_cameras_file(tmp_path, frames, K=k, plane_distance=10), 2)
    np.testing.assert_allclose(near[1] @ [960, 540, 1], [910, 540, 1], atol=1e-9)
    far = load_path(_cameras_file(tmp_path, frames, K=k), 2)
    np.testing.assert_allclose(far[1], np.eye(3), atol=1e-12)
    flip = np.diag([1.0, -1.0, -1.0])  # the same cameras written with y up and -z forward
    gl = [{"R": (flip @ np.eye(3)).tolist(), "t": (flip @ np.array(f["t"])).tolist()} for f in frames]
    np.testing.assert_allclose(load_path(_cameras_file(tmp_path, gl, K=k, plane_distance=10, axes="opengl"), 2),
                               near, atol=1e-9)


@pytest.mark.parametrize("frames, top, message", [
    ([{"R": np.eye(3).tolist()}] * 2, {}, "frame 0 needs R \\(and K"),
    ([{"K": np.eye(3).tolist(), "R": (2 * np.eye(3)).tolist()}] * 2, {}, "frame 0 R is not a rotation"),
    ([{"R": np.eye(3).tolist()}] * 2, {"K": [[1, 0], [0, 1]]}, "frame 0 K must be 3x3"),
    ([{"R": np.eye(3).tolist()}] * 2, {"K": np.eye(3).tolist(), "plane_distance": -1}, "plane_distance must be"),
    ([{"R": np.eye(3).tolist()}] * 2, {"K": np.eye(3).tolist(), "axes": "blender"}, "has axes 'blender'")])
def test_solved_camera_errors_name_the_problem(tmp_path, frames, top, message):
    with pytest.raises(ShotError, match=message):
        load_path(_cameras_file(tmp_path, frames, **top), 2)


def test_a_track_that_loses_the_texture_for_a_while_is_still_used(marker_clip):
    """Frames 16-27 of 40 lose the markers (a camera whipping into a plain sky): the track is not reliable (70 %
    followed), yet the camera is taken from it rather than left static, with the untracked frames named; the
    frames tracked before the gap still follow the true camera."""
    from paistudio.comp.analysis import Analysis
    from paistudio.comp.camera import choose_camera
    from paistudio.shot import CameraSpec
    frames, alpha, path = marker_clip
    flat, *_ = green_screen_clip(N, W, H, markers=False, path=path)
    gap = slice(16, 28)
    spliced = frames.copy()
    spliced[gap] = flat[gap]
    result = track(spliced, alpha)
    assert not result.reliable
    nan = np.full((N, 3), np.nan)
    analysis = Analysis(1.0, result, nan, nan, np.full((N, 4), -1))
    choice = choose_camera(CameraSpec(), N, (W, H), analysis, [textured_background(W, H)], [0])
    assert choice.source == "tracked-backing-partly"
    untracked = choice.details["tracked"]["untracked_frames"]
    assert len(untracked) == 1 and untracked[0].startswith("16-")
    assert any("where the texture was lost (frames 16-" in w for w in choice.warnings)
    assert corner_error(choice.homographies[:16], path[:16]) < 1.0
    lost = result.inliers.copy()
    lost[1:30] = 0  # most of the clip untracked: static after all
    nothing = Analysis(1.0, type(result)(result.homographies, lost, False), nan, nan, np.full((N, 4), -1))
    assert choose_camera(CameraSpec(), N, (W, H), nothing, [textured_background(W, H)], [0]).source == "static"


def test_untracked_frames_are_named_as_ranges():
    from paistudio.comp.camera import _spans
    assert _spans(np.array([3, 4, 5, 9, 11, 12])) == ["3-5", "9", "11-12"] and _spans(np.array([], int)) == []
