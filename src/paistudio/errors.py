"""Named exceptions. Every message is one line that says what to do.

The CLI turns a :class:`PaiStudioError` into that line on stderr and the exit code of its class;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class PaiStudioError(Exception):
    """Base of every error a user can cause and fix."""

    exit_code = 2


class InputError(PaiStudioError):
    """An input file is missing, unreadable, corrupt, empty or of the wrong kind."""

    exit_code = 3


class FormatError(InputError):
    """Inputs that do not fit together (sizes, frame counts) or an unsupported format."""

    exit_code = 4


class ReferenceImageError(InputError):
    """A reference image or its anchor is unusable (unreadable, too large, anchor out of range or duplicated)."""

    exit_code = 5


class ShotError(PaiStudioError):
    """An invalid shot description (shot.json or options); names the field."""

    exit_code = 6

    def __init__(self, field: str, problem: str):
        self.field = field
        super().__init__(f"{field}: {problem}")


class OutputError(PaiStudioError):
    """The output cannot be written where asked (exists, unwritable, same as an input)."""

    exit_code = 7


class EngineUnavailable(PaiStudioError):
    """The asked-for engine cannot run here (unknown, not built, or its model weights are missing)."""

    exit_code = 8


class RenderInterrupted(PaiStudioError):
    """The render was stopped before the end; nothing was written at the output path."""

    exit_code = 130

