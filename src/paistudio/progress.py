"""Progress reporting: frames, fps and ETA on a rich bar, or nothing (`--quiet`, the Python API default)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def phase(self, name: str, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def close(self) -> None: ...


class Silent:
    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class RichProgress:
    """One bar per phase (`analyse`, `render`): done/total frames (`unit`), per second, elapsed, ETA."""

    def __init__(self, unit: str = "frames"):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as _Progress, TaskProgressColumn,
                                   TextColumn, TimeElapsedColumn, TimeRemainingColumn)

        class FpsColumn(TextColumn):
            def render(self, task):
                speed = task.finished_speed or task.speed
                if speed is None:
                    return super().render(task)
                return _text(f"{speed:6.1f} fps" if unit == "frames" else f"{speed:6.2f} {unit}/s")

        from rich.text import Text as _text
        self._bar = _Progress(TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(),
                              TextColumn(unit), FpsColumn("   -- fps" if unit == "frames" else f"   -- {unit}/s"), TaskProgressColumn(),
                              TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                              console=Console(stderr=True), transient=False)
        self._bar.start()
        self._task = None

    def phase(self, name: str, total: int) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=self._bar.tasks[-1].total)
        self._task = self._bar.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        self._bar.advance(self._task, n)

    def close(self) -> None:
        self._bar.stop()
