"""The local web app (`paistudio app`): the form's mapping onto `replace`, its progress text, and a real render and
a named error through the running server's HTTP API (the one the page calls)."""

from __future__ import annotations

import json
import socket
import sys

import numpy as np
import pytest

from paistudio.app import AppForm, PageProgress, output_path, replace_arguments
from paistudio.errors import InputError
from tests.media import green_screen_clip, textured_background, write_image, write_video


def test_form_maps_onto_replace_arguments(tmp_path):
    form = AppForm(foreground="fg.mp4", references=[("a.jpg", ""), ("b.jpg", "@75%"), (None, "")],
                   matte_mode="file", matte_file="m.mp4", camera=" pan=0.2 ", codec="prores4444", quality="fast",
                   relight=False)
    args = replace_arguments(form, tmp_path / "o.mov")
    assert args["references"] == [("a.jpg", None), ("b.jpg", "75%")]  # blank: the default anchor; '@' optional
    assert args["matte"] == "m.mp4" and args["camera"] == "pan=0.2" and args["codec"] == "prores4444"
    assert args["relight"] is False and args["stages"]["repair"] == "off" and args["stages"]["parallax"] is False
    assert args["stages"]["reference_fit"] == "frame"
    assert replace_arguments(AppForm("fg.mp4", [("a.jpg", "")], camera_file="path.json"), tmp_path / "o.mp4")[
        "camera"] == "path.json"
    for bad, message in [(AppForm(None, [("a.jpg", "")]), "give a foreground video"),
                         (AppForm("fg.mp4", [(None, "@0")]), "at least one background reference"),
                         (AppForm("fg.mp4", [("a.jpg", "")], matte_mode="file"), "matte 'file' needs"),
                         (AppForm("fg.mp4", [("a.jpg", "")], codec="png"), "codec must be one of")]:
        with pytest.raises(InputError, match=message):
            replace_arguments(bad, tmp_path / "o.mp4")


def test_output_names_never_clobber(tmp_path):
    first = output_path(tmp_path, "/uploads/shot_010.mov", "prores4444")
    assert first.name == "shot_010-001.mov"
    first.write_bytes(b"x")
    assert output_path(tmp_path, "/uploads/shot_010.mov", "prores4444").name == "shot_010-002.mov"
    assert output_path(tmp_path, "shot_010.mov", "h264").name == "shot_010-002.mp4"  # sidecars share the number


def test_page_progress_says_frames_fps_and_eta():
    seen = []
    p = PageProgress(lambda value, desc: seen.append((value, desc)))
    p.phase("render", 10)
    p.advance(4)
    assert seen[0] == ((0, 10), "render: 0/10 frames")
    assert seen[-1][0] == (4, 10) and seen[-1][1].startswith("render: 4/10 frames, ") and " fps, ETA " in seen[-1][1]


def test_app_without_gradio_is_a_named_error(monkeypatch, capsys):
    from paistudio.cli import main
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now raises ImportError
    monkeypatch.setattr(sys, "argv", ["paistudio", "app", "--port", "1"])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code != 0 and "the web app needs gradio: pip install" in capsys.readouterr().err


@pytest.fixture
def served(tmp_path):
    pytest.importorskip("gradio")
    from paistudio.app import launch
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    page = launch(port=port, workdir=tmp_path / "renders", block=False)
    yield f"http://127.0.0.1:{port}/", tmp_path / "renders"
    page.close()


def _fields(fg, ref, **over):
    """The page's inputs in order (foreground, matte, matte file, screen, 3 x (reference, anchor), camera, camera
    file, codec, preset, crf, quality, reference fit, relight, despill, audio)."""
    from gradio_client import handle_file
    values = {"fg": handle_file(str(fg)), "matte": "auto", "matte_file": None, "backing": "auto",
              "ref1": handle_file(str(ref)), "a1": "", "ref2": None, "a2": "", "ref3": None, "a3": "",
              "camera": "auto", "camera_file": None, "codec": "h264", "preset": "ultrafast", "crf": 18,
              "quality": "full", "fit": "frame", "relight": True, "despill": True, "audio": True, **over}
    return list(values.values())


def test_served_app_renders_and_names_bad_input(served, tmp_path):
    from gradio_client import Client
    from paistudio.io.video import probe
    url, renders = served
    frames, *_ = green_screen_clip(12, 128, 80, seed=3)
    fg = write_video(tmp_path / "fg.mp4", frames)
    ref = write_image(tmp_path / "ref.png", textured_background(128, 80))
    client = Client(url, verbose=False)
    preview, download, text, summary = client.predict(*_fields(fg, ref), api_name="/replace")
    record = json.loads(text)
    written = renders / "fg-001.mp4"
    assert written.is_file() and probe(written).n_frames == 12 == record["output"]["frames"]
    assert probe(download).n_frames == 12 and preview is not None  # H.264: the page shows it
    assert record["engine"]["matte"]["mode"] == "key" and summary.startswith("Wrote **fg-001.mp4**: 12 frames")
    preview, _, text, _ = client.predict(*_fields(fg, ref, codec="prores4444"), api_name="/replace")
    assert (renders / "fg-002.mov").is_file() and json.loads(text)["output"]["codec"] == "prores4444"
    assert preview is None  # a browser cannot play ProRes: download only
    with pytest.raises(Exception, match="is a single image; give a video file"):
        client.predict(*_fields(ref, ref), api_name="/replace")
    with pytest.raises(Exception, match="matte 'file' needs a matte"):
        client.predict(*_fields(fg, ref, matte="file"), api_name="/replace")
    assert sorted(p.name for p in renders.glob("fg-*.m*")) == ["fg-001.mp4", "fg-002.mov"]  # failures wrote nothing
    assert (renders / "fg-002.record.json").is_file()
    assert np.isfinite(record["timings"]["total_s"])
