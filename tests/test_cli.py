"""The command line: every bad input gets a named one-line error, a non-zero exit and writes nothing."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from paistudio.cli import main
from tests.media import green_screen_clip, textured_background, write_image, write_sequence, write_video


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    frames, alpha, *_ = green_screen_clip(12, 128, 80, seed=3)
    fg = write_video(d / "fg.mp4", frames)
    ref = write_image(d / "ref.png", textured_background(128, 80))
    return {"dir": d, "fg": fg, "ref": ref, "frames": frames, "alpha": alpha}


def run(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["paistudio", *map(str, args)])
    with pytest.raises(SystemExit) as e:
        main()
    return e.value.code, capsys.readouterr().err


def _ok(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["paistudio", *map(str, args)])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 0


def test_replace_cli_writes_output_and_sidecars(inputs, tmp_path, monkeypatch):
    _ok(monkeypatch, "replace", inputs["fg"], "--ref", inputs["ref"], "-o", tmp_path / "o.mp4", "--quiet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.camera.json", "o.mp4", "o.record.json", "o.shot.json"]
    _ok(monkeypatch, "render", tmp_path / "o.shot.json", "-o", tmp_path / "r.mp4", "--quiet")
    assert (tmp_path / "r.mp4").is_file()


def _nothing_written(folder, before):
    assert sorted(p.name for p in folder.iterdir()) == before


@pytest.mark.parametrize("case, code, message", [
    ("missing", 3, "does not exist"),
    ("image_as_video", 3, "single image"),
    ("corrupt", 3, "corrupt or truncated|cannot be opened"),
    ("ref_missing", 5, "reference .* does not exist"),
    ("ref_unreadable", 5, "cannot be read"),
    ("four_refs", 6, "at most 3"),
    ("anchor_out_of_range", 5, "outside the clip"),
    ("anchor_duplicated", 5, "anchored at frame 0"),
    ("bad_anchor", 6, "cannot read anchor"),
    ("output_is_input", 7, "also an input"),
    ("output_exists", 7, "--overwrite"),
    ("output_dir_missing", 7, "does not exist"),
    ("matte_size", 4, "same size"),
    ("matte_count", 4, "one matte frame per foreground frame"),
    ("bad_codec_ext", 4, "cannot be written"),
    ("bad_camera_file", 6, "camera"),
    ("no_screen", 3, "no green or blue screen"),
    ("bad_preset", 6, "output.preset"),
    ("dit_engine", 6, "dit.model"),
    ("lut_missing", 3, "LUT .*none.cube does not exist"),
    ("lut_not_cube", 3, "is not a .cube file"),
    ("dnxhr_small", 4, "dnxhr needs frames of at least 256x120"),
    ("sequence_gap", 3, "missing 1 frame\\(s\\) between 1 and 12: 5;"),
])
def test_bad_input(inputs, tmp_path, monkeypatch, capsys, case, code, message):
    fg, ref, out = inputs["fg"], inputs["ref"], tmp_path / "out.mp4"
    args = ["replace", fg, "--ref", ref, "-o", out, "--quiet"]
    if case == "missing":
        args[1] = tmp_path / "nope.mp4"
    elif case == "image_as_video":
        args[1] = ref
    elif case == "corrupt":
        bad = tmp_path / "bad.mp4"
        bad.write_bytes(fg.read_bytes()[: len(fg.read_bytes()) // 3])
        args[1] = bad
    elif case == "ref_missing":
        args[3] = tmp_path / "none.jpg"
    elif case == "ref_unreadable":
        (tmp_path / "junk.jpg").write_bytes(b"junk")
        args[3] = tmp_path / "junk.jpg"
    elif case == "four_refs":
        args += ["--ref", ref, "--ref", ref, "--ref", ref]
    elif case == "anchor_out_of_range":
        args[3] = f"{ref}@500"
    elif case == "anchor_duplicated":
        args[3] = f"{ref}@0"
        args += ["--ref", f"{ref}@0%"]
    elif case == "bad_anchor":
        args[3] = f"{ref}@2x"
        args[3] = f"{ref}@soon"
    elif case == "output_is_input":
        out = fg
        args[5] = fg
    elif case == "output_exists":
        out.write_bytes(b"keep me")
    elif case == "output_dir_missing":
        args[5] = tmp_path / "no" / "out.mp4"
    elif case == "matte_size":
        m = write_sequence(tmp_path / "m", [np.zeros((40, 64, 3), np.uint8)] * 12)
        args += ["--matte", m]
    elif case == "matte_count":
        m = write_sequence(tmp_path / "m", [np.zeros((80, 128, 3), np.uint8)] * 5)
        args += ["--matte", m]
    elif case == "bad_codec_ext":
        args += ["--codec", "prores4444"]
    elif case == "bad_camera_file":
        (tmp_path / "cam.json").write_text(json.dumps({"frames": [[1, 0, 0, 0, 1, 0, 0, 0, 1]]}))
        args += ["--camera", tmp_path / "cam.json"]
    elif case == "bad_preset":
        args += ["--preset", "warp9"]
    elif case == "dit_engine":
        args += ["--engine", "dit"]
    elif case == "lut_missing":
        args += ["--lut", tmp_path / "none.cube"]
    elif case == "lut_not_cube":
        (tmp_path / "look.3dl").write_text("0 0 0")
        args += ["--lut", tmp_path / "look.3dl"]
    elif case == "dnxhr_small":
        args[5] = tmp_path / "out.mov"
        args += ["--codec", "dnxhr"]
    elif case == "sequence_gap":
        seq = write_sequence(tmp_path / "seq", inputs["frames"])
        for i in range(12):
            (seq / f"{i:05d}.png").rename(seq / f"f.{i + 1:04d}.png")
        (seq / "f.0005.png").unlink()
        args[1] = seq
    elif case == "no_screen":
        args[1] = write_video(tmp_path / "plain.mp4", [textured_background(128, 80, seed=i) for i in range(4)])
    before = sorted(p.name for p in tmp_path.iterdir())
    got, err = run(monkeypatch, capsys, *args)
    assert got == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    import re
    assert re.search(message, lines[0]), lines[0]
    _nothing_written(tmp_path, before)
    if case == "output_exists":
        assert out.read_bytes() == b"keep me"


def test_invalid_shot_json_names_the_field(tmp_path, monkeypatch, capsys):
    (tmp_path / "s.json").write_text(json.dumps({"foreground": {"path": "x.mp4"}, "references": [],
                                                 "output": {"path": "o.mp4"}}))
    code, err = run(monkeypatch, capsys, "render", tmp_path / "s.json")
    assert code == 6 and "references" in err


def test_ctrl_c_mid_render_leaves_no_output(tmp_path):
    """SIGINT while rendering: exit 130, no file at the output path, no temporary left behind."""
    frames, *_ = green_screen_clip(6, 320, 192, seed=1)
    frames = np.concatenate([frames] * 200)  # 1,200 frames (a few seconds): still rendering when hit
    fg = write_video(tmp_path / "fg.mp4", frames)
    ref = write_image(tmp_path / "ref.png", textured_background(320, 192))
    out = tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "paistudio.cli", "replace", str(fg), "--ref", str(ref),
                             "-o", str(out), "--quiet", "--camera", "static", "--relight", "off"],
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            # a suite started in the background (`make test &`) ignores SIGINT, and so would the child
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(".out.partial") for p in tmp_path.iterdir()):
        time.sleep(0.05)
    time.sleep(0.1)  # the render has begun writing
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fg.mp4", "ref.png"]


def test_stage_switches_reach_the_shot(inputs, tmp_path, monkeypatch):
    _ok(monkeypatch, "replace", inputs["fg"], "--ref", inputs["ref"], "-o", tmp_path / "a.mp4", "--quiet",
        "--repair", "on", "--complete", "on", "--refine", "off", "--edge-blur", "off", "--light-wrap", "0.4",
        "--grain", "on", "--parallax", "off", "--contact-shadow", "0.3", "--relight-direction", "0.2")
    stages = json.loads((tmp_path / "a.shot.json").read_text())["stages"]
    assert stages == {**stages, "repair": "on", "complete": "on", "refine": False, "edge_blur": False,
                      "light_wrap": 0.4, "grain": True, "parallax": False, "contact_shadow": 0.3, "relight_direction": 0.2}
    _ok(monkeypatch, "replace", inputs["fg"], "--ref", inputs["ref"], "-o", tmp_path / "f.mp4", "--quiet",
        "--quality", "fast", "--light-wrap", "0.4")
    fast = json.loads((tmp_path / "f.shot.json").read_text())["stages"]
    assert (fast["repair"], fast["complete"], fast["refine"], fast["light_wrap"], fast["parallax"]) == \
        ("off", "off", False, 0.0, False)
    assert fast["relight"] and fast["despill"]  # fast keeps the core stages


@pytest.mark.parametrize("args, message", [
    (["--quality", "best"], "--quality takes full or fast"),
    (["--light-wrap", "1.5"], "stages.light_wrap: must be between 0 and 1"),
    (["--repair", "maybe"], "stages.repair: 'maybe' is not one of auto, on, off"),
    (["--complete", "maybe"], "stages.complete: 'maybe' is not one of auto, on, off"),
])
def test_bad_stage_values_are_named(inputs, tmp_path, monkeypatch, capsys, args, message):
    code, err = run(monkeypatch, capsys, "replace", inputs["fg"], "--ref", inputs["ref"], "-o", tmp_path / "o.mp4",
                    "--quiet", *args)
    assert code != 0 and message in err
    assert not (tmp_path / "o.mp4").exists()


def test_lut_and_delivery_codec_reach_the_render(inputs, tmp_path, monkeypatch):
    from tests.media import write_cube
    cube = write_cube(tmp_path / "look.cube", lambda c: np.clip(c * [1.05, 1.0, 0.95], 0, 1))  # the screen stays green
    out = tmp_path / "o.mov"
    _ok(monkeypatch, "replace", inputs["fg"], "--ref", inputs["ref"], "-o", out, "--lut", cube, "--codec",
        "prores422hq", "--quiet")
    record = json.loads((tmp_path / "o.record.json").read_text())
    assert record["inputs"]["foreground"]["lut"] == str(cube) and record["output"]["codec"] == "prores422hq"
    import av
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "prores"
