"""`paistudio replace --engine dit --model DIR` end to end on a tiny checkpoint the test saves itself.

The tiny model is untrained, so the pictures are noise: this checks the plumbing (frames, rate, timestamps,
windows, paste-back, records, errors), not quality. Quality needs trained weights (tests/train/test_overfit.py)."""

import json
from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

import paistudio  # noqa: E402
from paistudio.io.video import probe, read_chunks  # noqa: E402
from paistudio.model.checkpoint import save_bundle, tiny_bundle  # noqa: E402
from paistudio.model.engine import working_size  # noqa: E402
from tests.media import green_screen_clip, textured_background, write_image, write_video  # noqa: E402

N = 14


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    d = tmp_path_factory.mktemp("dit")
    frames, alpha, fg, _ = green_screen_clip(N, 256, 192, markers=False, seed=3)
    video = write_video(d / "fg.mp4", frames, fps=Fraction(24000, 1001), options={"crf": "10"})
    refs = [write_image(d / f"r{i}.png", textured_background(256, 192, seed=i)) for i in range(2)]
    model = save_bundle(tiny_bundle(), d / "ckpt")
    return {"dir": d, "fg": video, "refs": refs, "model": model, "frames": frames, "alpha": alpha}


def test_working_size_keeps_aspect_at_the_model_area():
    assert working_size(1920, 1080, (832, 480), 16) == (848, 480)
    assert working_size(64, 48, (32, 32), 8) == (40, 24)
    assert working_size(10, 1000, (32, 32), 8) == (8, 320)


def test_anamorphic_footage_reaches_the_model_unsqueezed(job, tmp_path):
    """256x192 stored with 4/3-wide pixels is 16:9 on screen: at a working height of 72 the model gets 128x72
    (square pixels would give 96x72), and the output keeps the stored size and the pixel aspect."""
    fg = write_video(tmp_path / "hdv.mp4", job["frames"][:5], pixel_aspect=Fraction(4, 3), options={"crf": "10"})
    out = tmp_path / "out.mp4"
    record = paistudio.replace(fg, [str(job["refs"][0])], out, engine="dit",
                               dit={"model": str(job["model"]), "steps": 1, "guidance": 1.0, "height": 72})
    assert record["engine"]["working_size"] == [128, 72]
    info = probe(out)
    assert (info.width, info.height, info.pixel_aspect) == (256, 192, Fraction(4, 3))


def test_dit_engine_writes_every_frame_with_windows_and_paste_back(job, tmp_path):
    out = tmp_path / "out.mkv"  # lossless, so the pasted pixels can be compared exactly
    record = paistudio.replace(job["fg"], [str(p) for p in job["refs"]], out, engine="dit", layers=tmp_path / "layers",
                               codec="ffv1",
                               prompt={"caption": "a figure on a street"},
                               dit={"model": str(job["model"]), "steps": 2, "guidance": 2.0, "window": 9, "overlap": 3})
    info, src = probe(out), probe(job["fg"])
    assert info.n_frames == N and info.fps == Fraction(24000, 1001)
    e = record["engine"]
    assert e["engine"] == "dit" and e["working_size"] == [40, 24]
    assert [(w["start"], w["stop"]) for w in e["windows"]] == [(0, 9), (5, 14)]
    # 9 frames x (24/4/2) x (40/4/2) target tokens, as many condition tokens, 2 references of 3 x 5
    assert e["tokens_per_window"] == {"target": 135, "condition": 135, "references": 30, "total": 300}
    assert record["camera_path"] is None
    assert not any("stock Wan" in w for w in record["warnings"])
    saved = json.loads((tmp_path / "out.shot.json").read_text())
    assert saved["stages"]["engine"] == "dit" and saved["dit"]["steps"] == 2
    # paste-back: where the engine's matte is opaque (deep inside), the output is the input's foreground
    import cv2
    got = np.concatenate(list(read_chunks(info)))[..., :3].astype(int)  # ffv1 keeps alpha: drop it
    src_frames = np.concatenate(list(read_chunks(src))).astype(int)
    alpha = np.concatenate(list(read_chunks(probe(tmp_path / "layers" / "alpha"))))[..., 0]
    core = np.stack([cv2.erode((a == 255).astype(np.uint8), np.ones((25, 25), np.uint8)) > 0 for a in alpha])  # 12 px in
    assert core.sum() > 100
    assert np.abs(got[core] - src_frames[core]).max() <= 2
    assert np.abs(got[~core] - src_frames[~core]).mean() > 20  # elsewhere: the (untrained) model's pixels


def test_render_shot_json_reproduces_the_dit_job(job, tmp_path):
    out = tmp_path / "a.mp4"
    paistudio.replace(job["fg"], [str(job["refs"][0])], out, engine="dit",
                      dit={"model": str(job["model"]), "steps": 1, "guidance": 1.0, "paste_back": False})
    shot = paistudio.Shot.load(tmp_path / "a.shot.json")
    shot.output.path = str(tmp_path / "b.mp4")
    paistudio.render(shot)
    a, b = probe(out), probe(tmp_path / "b.mp4")
    assert a.pts == b.pts == probe(job["fg"]).pts  # H.264 mp4: the input's exact timestamps
    assert np.array_equal(np.concatenate(list(read_chunks(a))), np.concatenate(list(read_chunks(b))))


def test_cli_errors_for_the_dit_engine(job, tmp_path):
    def run(*args):
        import subprocess
        import sys
        return subprocess.run([sys.executable, "-m", "paistudio.cli", *args], capture_output=True, text=True)

    base = ["replace", str(job["fg"]), "--ref", str(job["refs"][0]), "--engine", "dit"]
    r = run(*base, "-o", str(tmp_path / "x.mp4"))
    assert r.returncode == 6 and "dit.model" in r.stderr and "Traceback" not in r.stderr
    r = run(*base, "--model", str(tmp_path / "missing"), "-o", str(tmp_path / "x.mp4"))
    assert r.returncode == 8 and "does not exist" in r.stderr
    r = run(*base, "--model", str(job["model"]), "--prompt", "{bad", "-o", str(tmp_path / "x.mp4"))
    assert r.returncode == 2 and "not valid JSON" in r.stderr
    r = run(*base, "--model", str(job["model"]), "--sampler", "ddim", "-o", str(tmp_path / "x.mp4"))
    assert r.returncode == 6 and "dit.sampler" in r.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_bench_scores_the_dit_engine_when_given_a_model(job, tmp_path):
    from paistudio.eval.bench import BenchSpec, run_bench
    from tests.media import write_clip_folder

    clip, _, _ = write_clip_folder(tmp_path / "clips" / "toy", width=96, height=64, n=10)
    spec = BenchSpec(clips=[tmp_path / "clips"], out=tmp_path / "res", tracks=["flat"], engines=["dit"], refs=[1],
                     dit_model=job["model"], dit_steps=1)
    res = run_bench(spec)
    dit = [r for r in res["rows"] if r["method"] == "dit"]
    assert len(dit) == 1 and dit[0]["status"] == "ok", dit
    assert 0 <= dit[0]["metrics"]["mse"] <= 1 and "motion_consistency" in dit[0]["metrics"]


def test_the_render_bar_moves_with_each_denoising_step(job, tmp_path):
    class Recorder:
        def __init__(self):
            self.phases, self.steps = [], []

        def phase(self, name, total):
            self.phases.append((name, total))

        def advance(self, n=1):
            self.steps.append(n)

        def close(self):
            pass

    rec = Recorder()
    paistudio.replace(job["fg"], [str(job["refs"][0])], tmp_path / "p.mp4", engine="dit", progress=rec,
                      dit={"model": str(job["model"]), "steps": 3, "guidance": 1.0, "window": 9, "overlap": 3})
    assert ("render", N) in rec.phases
    assert len(rec.steps) >= 2 * 3  # two windows of three steps each, plus the settling per window
    assert sum(rec.steps) == pytest.approx(N)


def test_a_stock_wan_folder_runs_through_the_vae_with_a_warning(job, tmp_path):
    from .wan_folder import save_tiny_wan

    wan = save_tiny_wan(tmp_path / "Wan-tiny")
    record = paistudio.replace(job["fg"], [str(p) for p in job["refs"]], tmp_path / "w.mp4", engine="dit",
                               dit={"model": str(wan), "steps": 1, "guidance": 1.0, "width": 32, "height": 32,
                                    "window": 9, "overlap": 4})
    assert probe(tmp_path / "w.mp4").n_frames == N
    assert any("stock Wan" in w for w in record["warnings"])
    e = record["engine"]
    assert e["model_config"]["codec"] == "wan-vae" and e["working_size"] == [32, 32]
    # 9-frame windows through the Wan VAE: 3 latent frames of 2 x 2 tokens
    assert e["tokens_per_window"]["target"] == 3 * 2 * 2
