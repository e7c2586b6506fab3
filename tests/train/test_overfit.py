"""Learning works: the tiny preset overfits one synthetic case, then sampling reconstructs it (issue 4)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from paistudio.model.checkpoint import load_bundle  # noqa: E402
from paistudio.model.pipeline import DitPipeline  # noqa: E402
from paistudio.train.augment import Augment, make_sample  # noqa: E402
from paistudio.train.cases import SyntheticPanning  # noqa: E402
from paistudio.train.config import TrainConfig  # noqa: E402
from paistudio.train.loop import train  # noqa: E402


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / mse))


@pytest.mark.slow
def test_tiny_model_overfits_one_case_and_samples_it_back(tmp_path):
    torch.set_num_threads(2)
    no_aug = {"perturb": False, "prompt_dropout": 0.0, "ref_dropout": 0.0, "ref_count": [3, 3]}
    cfg = TrainConfig.from_dict({
        "model": {"preset": "tiny"},
        "data": {"kind": "synthetic", "cases": 1, "frames": 9, "width": 32, "height": 32},
        "train": {"steps": 1200, "lr": 2e-3, "warmup_steps": 20, "ema_decay": 0.99, "log_every": 100,
                  "out": str(tmp_path / "run")},
        "augment": no_aug})
    summary = train(cfg)
    losses = summary["losses"]
    first, last = float(np.mean(losses[:10])), float(np.mean(losses[-50:]))
    print(f"loss {first:.3f} -> {last:.4f} ({first / last:.1f}x) in {summary['seconds']} s")
    assert first / last >= 10

    bundle = load_bundle(tmp_path / "run" / "final")
    case = SyntheticPanning(1, 9, 32).case(0)
    sample = make_sample(case, Augment(**{k: tuple(v) if isinstance(v, list) else v for k, v in no_aug.items()}),
                         np.random.default_rng(0))
    video = DitPipeline(bundle)(sample.condition, sample.references, sample.anchors, sample.prompt, steps=10,
                                guidance=1.0, seed=3)
    assert video.shape == (9, 32, 32, 3)
    score = psnr(video, case.target)
    print(f"sampled video PSNR {score:.2f} dB")
    assert score >= 25
