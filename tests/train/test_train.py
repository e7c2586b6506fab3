import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from paistudio.train.augment import GREEN, Augment, make_sample  # noqa: E402
from paistudio.train.cases import SyntheticPanning  # noqa: E402
from paistudio.train.config import ConfigError, TrainConfig  # noqa: E402
from paistudio.train.loop import draw_batch, shifted_sigmas, train  # noqa: E402


def _cfg(tmp_path, name="run", **train_kw):
    t = {"steps": 4, "lr": 1e-3, "log_every": 1, "out": str(tmp_path / name)}
    t.update(train_kw)
    return TrainConfig.from_dict({"model": {"preset": "tiny"},
                                  "data": {"kind": "synthetic", "cases": 4, "frames": 5, "width": 32, "height": 32},
                                  "train": t, "augment": {"mask_defects": 0.5}})


def test_synthetic_cases_are_seeded_and_pan():
    a, b = SyntheticPanning(3, 9, 32).case(1), SyntheticPanning(3, 9, 32).case(1)
    assert np.array_equal(a.target, b.target) and a.target.shape == (9, 32, 32, 3)
    assert set(a.backgrounds) == set(range(9))
    # the background moves: consecutive clean backgrounds differ, the disc's matte is soft-edged
    assert np.abs(a.backgrounds[0].astype(int) - a.backgrounds[8].astype(int)).mean() > 5
    assert 0 < a.alpha.mean() < 0.5 and ((a.alpha > 0) & (a.alpha < 1)).any()
    assert "camera" in a.prompt["camera_motion_analysis"]


def test_augment_relights_only_the_condition_and_keeps_the_green_backing():
    case = SyntheticPanning(2, 9, 32).case(0)
    s = make_sample(case, Augment(perturb=True, ref_count=(3, 3), prompt_dropout=0, ref_dropout=0),
                    np.random.default_rng(1))
    assert np.array_equal(s.target, case.target)  # the target keeps the true light
    outside = case.alpha == 0
    assert np.array_equal(s.condition[outside], np.broadcast_to(GREEN, s.condition[outside].shape).astype(np.uint8))
    inside = case.alpha == 1
    assert np.abs(s.condition[inside].astype(int) - case.target[inside].astype(int)).mean() > 2
    assert s.anchors == [0, 4, 8] and s.references.shape == (3, 32, 32, 3)
    assert np.array_equal(s.references[1], case.backgrounds[4])
    assert "perturbation" in s.params


def test_augment_counts_defects_and_dropouts():
    case = SyntheticPanning(2, 9, 32).case(1)
    rng = np.random.default_rng(0)
    counts = {1: 0, 2: 0, 3: 0}
    for _ in range(30):
        s = make_sample(case, Augment(perturb=False, ref_count=(1, 3), prompt_dropout=0, ref_dropout=0), rng)
        counts[len(s.anchors)] += 1
        assert s.anchors == {1: [0], 2: [0, 8], 3: [0, 4, 8]}[len(s.anchors)]
    assert min(counts.values()) > 0
    s = make_sample(case, Augment(perturb=False, mask_defects=1.0, prompt_dropout=1.0, ref_dropout=1.0), rng)
    assert s.prompt == "" and len(s.references) == 0 and s.anchors == []
    assert "defects" in s.params
    clean = make_sample(case, Augment(perturb=False, prompt_dropout=0, ref_dropout=0), np.random.default_rng(0))
    assert not np.array_equal(s.condition, clean.condition)  # the damaged matte changed the cut-out


def test_batches_share_one_layout(tmp_path):
    cfg = _cfg(tmp_path, batch_size=3)
    source = SyntheticPanning(4, 5, 32)
    for step in range(6):
        batch = draw_batch(source, cfg, step)
        assert len({tuple(s.anchors) for s in batch}) == 1
    assert [s.anchors for s in draw_batch(source, cfg, 2)] == [s.anchors for s in draw_batch(source, cfg, 2)]


def test_shifted_sigmas_favour_noise():
    u = torch.linspace(0, 1, 101)
    s = shifted_sigmas(u, 3.0)
    assert s[0] == 0 and s[-1] == 1 and (s[1:-1] > u[1:-1]).all()


def test_resumed_training_equals_an_uninterrupted_run(tmp_path):
    straight = train(_cfg(tmp_path, "a", steps=6, save_every=3))
    first = train(_cfg(tmp_path, "b", steps=3))
    assert first["steps"] == 3
    resumed = train(_cfg(tmp_path, "b", steps=6))
    assert resumed["resumed_from"] == 3
    assert resumed["losses"] == pytest.approx(straight["losses"][3:], rel=1e-5)
    from safetensors.torch import load_file
    a = load_file(str(tmp_path / "a" / "final" / "transformer" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "final" / "transformer" / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]
    ckpts = sorted(p.name for p in (tmp_path / "a" / "checkpoints").iterdir())
    assert ckpts == ["step-000003", "step-000006"]


def test_lora_training_changes_only_adapters_and_role_vectors(tmp_path):
    from paistudio.model.checkpoint import tiny_bundle

    summary = train(_cfg(tmp_path, steps=3, lora_rank=4, ema_decay=0.9, sample_every=3, sample_steps=2))
    from safetensors.torch import load_file
    trained = load_file(str(tmp_path / "run" / "final" / "transformer" / "model.safetensors"))
    fresh = tiny_bundle(seed=0).transformer.state_dict()
    changed = {k for k in fresh if not torch.equal(fresh[k], trained[k])}
    assert changed, "LoRA training changed nothing"
    assert all(".attn" in k and k.rsplit(".", 2)[-2] in ("to_q", "to_k", "to_v", "0") or k == "role" for k in changed)
    assert not any("ffn" in k or "patch_embedding" in k for k in changed)
    assert (tmp_path / "run" / "samples" / "step-000003.png").is_file()
    assert summary["last_loss"] is not None


@pytest.mark.parametrize("raw,field", [
    ({"data": {"kind": "video"}}, "data.kind"),
    ({"data": {"kind": "clips"}}, "data.path"),
    ({"train": {"steps": 0}}, "train.steps"),
    ({"train": {"lr": "fast"}}, "train.lr"),
    ({"train": {"mixed_precision": "fp16"}}, "train.mixed_precision"),
    ({"augment": {"ref_count": [0, 4]}}, "augment.ref_count"),
    ({"augment": {"prompt_dropout": 2}}, "augment.prompt_dropout"),
    ({"train": {"stepz": 3}}, "train.stepz"),
    ({"optim": {}}, "optim"),
])
def test_bad_configs_name_the_field(raw, field):
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_dict(raw)
    assert e.value.field == field


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        TrainConfig.load(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nsteps = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        TrainConfig.load(bad)
    with pytest.raises(ConfigError, match="Wan VAE"):
        train(TrainConfig.from_dict({"model": {"preset": "small-20m"}, "train": {"out": str(tmp_path / "x")}}))


def test_train_cli_runs_resumes_and_names_bad_configs(tmp_path):
    import subprocess
    import sys

    cfg = tmp_path / "t.toml"
    cfg.write_text('[model]\npreset = "tiny"\n[data]\nkind = "synthetic"\ncases = 2\nframes = 5\n'
                   '[train]\nsteps = 2\nout = "run"\nlog_every = 1\n')
    run = lambda *a: subprocess.run([sys.executable, "-m", "paistudio.cli", "train", *a],  # noqa: E731
                                    capture_output=True, text=True)
    r = run("--config", str(cfg), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "trained 2 steps" in r.stdout and (tmp_path / "run" / "final" / "paistudio.json").is_file()
    cfg.write_text(cfg.read_text().replace("steps = 2", "steps = 3"))
    r = run("--config", str(cfg), "--quiet")
    assert r.returncode == 0 and "resumed from step 2" in r.stdout
    cfg.write_text('[train]\nsteps = "many"\n')
    r = run("--config", str(cfg))
    assert r.returncode == 6 and "train.steps" in r.stderr and "Traceback" not in r.stderr
