"""The benchmark's two baselines, run on the same case inputs as the engines.

- `static`: the begin reference as a still background, our keyed (or matted) foreground over it, no
  relighting: what a background replacement without camera awareness gives (the composite engine with
  `camera=static`, `relight=False`, one reference).
- `ffmpeg`: the classic filter graph, `colorkey` + `despill` + `overlay` onto the begin reference (on the plain
  track, whose input has a matte instead of a screen: `alphamerge` with the matte, then `overlay`). It needs an
  ffmpeg binary: imageio-ffmpeg's when installed, else `ffmpeg` on PATH; without one it is unavailable.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import EngineUnavailable, InputError
from ..io.atomic import atomic_path
from ..progress import Silent

BASELINES = ("static", "ffmpeg")
COLORKEY_SIMILARITY, COLORKEY_BLEND = 0.25, 0.08  # ffmpeg colorkey settings (those of benchmarks/throughput.py)


def ffmpeg_binary() -> str:
    """Path of an ffmpeg executable, or EngineUnavailable saying how to get one."""
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if found:
            return found
    raise EngineUnavailable("the ffmpeg baseline needs an ffmpeg binary: pip install imageio-ffmpeg, or put ffmpeg on PATH")


def render_static(foreground: Path, begin_ref: Path, out: Path, matte: Path | None = None) -> dict:
    """The static baseline (returns the render record)."""
    from ..api import replace
    return replace(foreground, [str(begin_ref)], out, matte=str(matte) if matte else None, camera="static",
                   relight=False, overwrite=True, crf=16, progress=Silent())


def render_ffmpeg(foreground: Path, begin_ref: Path, out: Path, screen_rgb: tuple[int, int, int] | None = None,
                  matte: Path | None = None, fps: str = "24", frames: int | None = None) -> None:
    """The ffmpeg baseline: key `screen_rgb` (or take alpha from the `matte` PNG folder) and overlay on the reference.

    The still is read at the clip's rate (`fps`): overlay's timing follows its first input, the background, so
    at image2's default 25 fps a 24 fps clip would gain frames. `frames` caps the output at the clip's count.
    """
    if (screen_rgb is None) == (matte is None):
        raise InputError("the ffmpeg baseline keys a screen colour or uses a matte folder; give exactly one")
    cmd = [ffmpeg_binary(), "-v", "error", "-y", "-i", str(foreground), "-framerate", fps, "-i", str(begin_ref)]
    if matte is not None:
        cmd += ["-framerate", fps, "-i", str(Path(matte) / "%05d.png")]
        fg = "[0:v][2:v]alphamerge[fg]"
    else:
        r, g, b = screen_rgb
        fg = f"[0:v]colorkey=0x{r:02X}{g:02X}{b:02X}:{COLORKEY_SIMILARITY}:{COLORKEY_BLEND},despill=type=green[fg]"
    graph = f"[1:v]loop=loop=-1:size=1:start=0[bg];{fg};[bg][fg]overlay=shortest=1:format=auto[v]"
    cmd += ["-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "16",
            "-pix_fmt", "yuv420p"] + (["-frames:v", str(frames)] if frames else []) + ["-f", "mp4"]
    with atomic_path(out) as tmp:  # a failed or interrupted run leaves no partial file at `out`
        done = subprocess.run(cmd + [str(tmp)], capture_output=True, text=True)
        if done.returncode != 0:
            raise InputError(f"the ffmpeg baseline failed on {foreground}: {done.stderr.strip().splitlines()[-1:]}")
