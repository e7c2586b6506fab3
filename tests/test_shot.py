import json
from fractions import Fraction

import pytest

from paistudio.errors import ReferenceImageError, ShotError
from paistudio.shot import Anchor, CameraSpec, OutputSpec, Reference, Shot, Source, default_anchors


def test_anchor_forms_resolve_to_frames():
    assert Anchor.parse("12").resolve(100, Fraction(24)) == 12
    assert Anchor.parse("1.5s").resolve(100, Fraction(24)) == 36
    assert Anchor.parse("2s").resolve(100, Fraction(24000, 1001)) == 48  # 47.95 rounds to 48
    assert Anchor.parse("75%").resolve(101, Fraction(24)) == 75
    assert Anchor.parse("100%").resolve(50, Fraction(24)) == 49


@pytest.mark.parametrize("text", ["abc", "1.5", "-", "3x"])
def test_bad_anchor_text_names_the_field(text):
    with pytest.raises(ShotError, match="anchor"):
        Anchor.parse(text)


def test_anchor_outside_clip_is_refused():
    with pytest.raises(ReferenceImageError, match="outside the clip's frames 0..9"):
        Anchor.parse("10").resolve(10, Fraction(24))
    with pytest.raises(ReferenceImageError, match="outside"):
        Anchor.parse("5s").resolve(24, Fraction(24))


def test_reference_parse_keeps_at_signs_in_names():
    assert Reference.parse("a@b.jpg") == Reference("a@b.jpg", None)
    assert Reference.parse("a@b.jpg@75%") == Reference("a@b.jpg", Anchor("percent", 75.0))
    assert Reference.parse("plate.jpg@0") == Reference("plate.jpg", Anchor("frame", 0.0))


def test_default_anchors():
    assert default_anchors(1, 10) == [0]
    assert default_anchors(2, 10) == [0, 9]
    assert default_anchors(3, 11) == [0, 5, 10]


def test_camera_spec_parse():
    assert CameraSpec.parse("auto").mode == "auto"
    spec = CameraSpec.parse("pan=0.2,zoom=1.1")
    assert (spec.mode, spec.pan, spec.zoom, spec.tilt) == ("moves", 0.2, 1.1, 0.0)
    assert CameraSpec.parse("path.json") == CameraSpec("file", "path.json")
    with pytest.raises(ShotError, match="camera"):
        CameraSpec.parse("roll=3")


def _shot(tmp_path, n_refs=1, **kw):
    return Shot(Source(str(tmp_path / "fg.mp4")), [Reference(str(tmp_path / f"r{i}.jpg")) for i in range(n_refs)],
                OutputSpec(str(tmp_path / "out.mp4")), **kw)


def test_too_many_references(tmp_path):
    with pytest.raises(ShotError, match="references: 4 given; at most 3"):
        _shot(tmp_path, 4).validate()


def test_mixed_anchoring_is_refused(tmp_path):
    shot = _shot(tmp_path, 2)
    shot.references[0].anchor = Anchor("frame", 0)
    with pytest.raises(ShotError, match="anchor all references or none"):
        shot.validate()


def test_round_trip_with_relative_paths(tmp_path):
    shot = _shot(tmp_path, 2)
    shot.references[1].anchor = Anchor("percent", 50)
    shot.references[0].anchor = Anchor("seconds", 0.5)
    shot.foreground.fps = Fraction(24000, 1001)
    shot.foreground.lut = str(tmp_path / "looks" / "slog3_to_709.cube")
    (tmp_path / "job").mkdir()
    path = shot.save(tmp_path / "job" / "x.shot.json")
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1
    assert data["foreground"] == {"path": "../fg.mp4", "fps": "24000/1001", "lut": "../looks/slog3_to_709.cube"}
    assert data["references"][1] == {"path": "../r1.jpg", "anchor": "50%"}
    back = Shot.load(path)
    assert back.foreground.path == str(tmp_path / "job" / "../fg.mp4")
    assert back.foreground.fps == Fraction(24000, 1001)
    assert back.foreground.lut == str(tmp_path / "job" / "../looks/slog3_to_709.cube")
    assert back.references[0].anchor == Anchor("seconds", 0.5)


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.pop("references"), "references"),
    (lambda d: d["output"].update(codec="mpeg2"), "output.codec"),
    (lambda d: d["camera"].update(zoom="big"), "camera.zoom"),
    (lambda d: d["camera"].update(mode="orbit"), "camera.mode"),
    (lambda d: d["references"][0].update(anchor="soon"), "references[0].anchor"),
    (lambda d: d.update(colour="red"), "shot.colour"),
    (lambda d: d["output"].update(overwrite="yes"), "output.overwrite"),
    (lambda d: d.update(schema_version=99), "schema_version"),
    (lambda d: d["foreground"].update(fps="fast"), "foreground.fps"),
])
def test_invalid_shot_json_reports_the_field(tmp_path, mutate, field):
    d = _shot(tmp_path).to_dict()
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ShotError) as e:
        Shot.load(p)
    assert e.value.field == field


def test_not_json_reports_line(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"foreground": ')
    with pytest.raises(ShotError, match="not valid JSON"):
        Shot.load(p)


def test_stage_fields_are_checked_by_name():
    from paistudio.shot import Stages
    assert Stages.from_dict({"contact_shadow": 0.3}).contact_shadow == 0.3
    with pytest.raises(ShotError, match="stages.shadow: unknown field"):
        Stages.from_dict({"shadow": 0.3})
    with pytest.raises(ShotError, match="stages.relight: must be bool"):
        Stages.from_dict({"relight": "yes"})
    shot = Shot(Source("fg.mp4"), [Reference("a.jpg")], OutputSpec("out.mp4"), stages=Stages(contact_shadow=1.5))
    with pytest.raises(ShotError, match="stages.contact_shadow: must be between 0 and 1"):
        shot.validate()


@pytest.mark.parametrize("text, want", [
    ("24", Fraction(24)), ("25", Fraction(25)), ("12.5", Fraction(25, 2)), ("23.976", Fraction(24000, 1001)),
    ("23.98", Fraction(24000, 1001)), ("29.97", Fraction(30000, 1001)), ("59.94", Fraction(60000, 1001)),
    ("47.952", Fraction(48000, 1001)), ("119.88", Fraction(120000, 1001)), ("24000/1001", Fraction(24000, 1001)),
    ("2997/125", Fraction(2997, 125))])
def test_frame_rates_editors_write_mean_the_ntsc_rates(text, want):
    """23.976 typed by an editor is 24000/1001 (taken literally it drifts a frame every 12 minutes); a fraction
    written out is kept as it is."""
    from paistudio.shot import frame_rate
    assert frame_rate(text) == want


def test_shot_json_fps_decimal_is_the_ntsc_rate(tmp_path):
    shot = _shot(tmp_path, 1)
    d = shot.to_dict()
    d["foreground"]["fps"] = "29.97"
    assert Shot.from_dict(d).foreground.fps == Fraction(30000, 1001)
