import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from paistudio.errors import EngineUnavailable  # noqa: E402
from paistudio.model.checkpoint import (from_wan, load_bundle, read_config, save_bundle,  # noqa: E402
                                        tiny_bundle)
from paistudio.model.codec import PixelCodec, WanVAECodec  # noqa: E402
from paistudio.model.config import preset  # noqa: E402

from .wan_folder import save_tiny_wan  # noqa: E402


@pytest.fixture(scope="module")
def wan_dir(tmp_path_factory):
    return save_tiny_wan(tmp_path_factory.mktemp("wan") / "Wan-tiny")


def test_from_wan_keeps_the_stock_forward(wan_dir):
    from diffusers import WanTransformer3DModel

    bundle = from_wan(wan_dir)
    stock = WanTransformer3DModel.from_pretrained(wan_dir / "transformer").eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 4, 3, 8, 8, generator=g)
    text = bundle.prompts.encode(['{"caption": "a man walking on a street"}'])
    t = torch.tensor([640.0])
    with torch.no_grad():
        ours = bundle.transformer(x, t, text)
        theirs = stock(x, t, text, return_dict=False)[0]
    assert torch.allclose(ours, theirs, atol=1e-5)
    for k, v in stock.state_dict().items():  # no weight changed
        assert torch.equal(bundle.transformer.wan.state_dict()[k], v)
    assert isinstance(bundle.codec, WanVAECodec) and bundle.codec.temporal_stride == 4
    assert bundle.cfg.wan["num_layers"] == 2 and bundle.cfg.text_len == 512


def test_wan_vae_codec_shapes_and_normalisation(wan_dir):
    bundle = from_wan(wan_dir)
    video = torch.rand(1, 3, 9, 32, 32) * 2 - 1
    z = bundle.codec.encode(video)
    assert z.shape == (1, 4, 3, 4, 4)  # 1 + (9-1)/4 latent frames, /8 spatially
    raw = bundle.vae.encode(video).latent_dist.mode()
    mean = torch.tensor([0.1, -0.2, 0.0, 0.3]).view(1, 4, 1, 1, 1)
    std = torch.tensor([1.5, 0.8, 1.0, 2.0]).view(1, 4, 1, 1, 1)
    assert torch.allclose(z, (raw - mean) / std, atol=1e-5)
    assert bundle.codec.decode(z).shape == video.shape
    assert bundle.codec.encode_image(video[:, :, 0]).shape == (1, 4, 4, 4)


def test_bundle_round_trip_with_config_in_metadata(tmp_path, wan_dir):
    bundle = from_wan(wan_dir, ref_time="sequential")
    with torch.no_grad():
        bundle.transformer.role.normal_()
    save_bundle(bundle, tmp_path / "ckpt")
    assert read_config(tmp_path / "ckpt" / "transformer" / "model.safetensors") == bundle.cfg
    index = json.loads((tmp_path / "ckpt" / "paistudio.json").read_text())
    assert index["config"]["ref_time"] == "sequential" and "vae" in index["components"]
    again = load_bundle(tmp_path / "ckpt")
    for k, v in bundle.transformer.state_dict().items():
        assert torch.equal(again.transformer.state_dict()[k], v)
    video = torch.rand(1, 3, 5, 16, 16) * 2 - 1
    assert torch.allclose(again.codec.encode(video), bundle.codec.encode(video))


def test_lora_weights_are_merged_on_save(tmp_path):
    from peft import LoraConfig

    bundle = tiny_bundle()
    bundle.transformer.wan.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"],
                                                  init_lora_weights=False))
    x, t = torch.randn(1, 48, 2, 4, 4), torch.tensor([100.0])
    text = bundle.prompts.encode(["a dog"])
    with torch.no_grad():
        with_lora = bundle.transformer(x, t, text)
    save_bundle(bundle, tmp_path / "ckpt")
    again = load_bundle(tmp_path / "ckpt")
    assert isinstance(again.codec, PixelCodec)
    with torch.no_grad():
        assert torch.allclose(again.transformer(x, t, text), with_lora, atol=1e-5)
        assert torch.allclose(bundle.transformer(x, t, text), with_lora, atol=1e-6)  # unmerged again after saving


def test_bad_model_folders_are_named(tmp_path, wan_dir):
    with pytest.raises(EngineUnavailable, match="does not exist"):
        load_bundle(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EngineUnavailable, match="neither a paistudio checkpoint"):
        load_bundle(tmp_path / "empty")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "transformer").mkdir()
    with pytest.raises(EngineUnavailable, match="vae/ is missing"):
        from_wan(tmp_path / "half")
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(EngineUnavailable, match="not a paistudio DiT checkpoint"):
        read_config(tmp_path / "other.safetensors")


def test_pixel_codec_is_exact():
    codec = PixelCodec(4)
    video = torch.rand(2, 3, 5, 16, 24)
    z = codec.encode(video)
    assert z.shape == (2, 48, 5, 4, 6)
    assert torch.equal(codec.decode(z), video)
    assert torch.equal(z[:, [0, 16, 32], :, 0, 0], video[:, :, :, 0, 0])  # channel-major: c*S*S + dy*S + dx
    with pytest.raises(ValueError, match="multiple of 4"):
        codec.encode(torch.rand(1, 3, 1, 10, 16))


def test_tiny_preset_counts():
    cfg = preset("tiny")
    n = sum(p.numel() for p in tiny_bundle(cfg).transformer.parameters())
    assert 1_500_000 < n < 3_000_000  # wide enough to carry a token's 192 values
