"""Overlap decode, compute and encode on separate threads (PyAV, x264 and OpenCV release the GIL).

Queues are bounded, so memory stays a few chunks deep whatever the clip length. An exception on a worker
thread is re-raised in the caller; stopping early (error, Ctrl-C) shuts the workers down.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Run `source` on a thread, `depth` items ahead of the consumer."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work():
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as e:  # handed to the consumer
            q.put(_Failure(e))

    thread = threading.Thread(target=work, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
        close = getattr(source, "close", None)
        if close is not None and not thread.is_alive():
            close()


class BackgroundWriter:
    """Calls `write(item)` on a worker thread; `put` blocks when `depth` items are waiting."""

    def __init__(self, write: Callable[[object], None], depth: int = 2):
        self._write = write
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="writer", daemon=True)
        self._thread.start()

    def _work(self):
        while True:
            item = self._q.get()
            if item is _DONE:
                return
            if self._error is None:
                try:
                    self._write(item)
                except BaseException as e:
                    self._error = e

    def put(self, item) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(item)

    def close(self) -> None:
        """Wait for every queued item to be written; re-raise a writer error."""
        self._q.put(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error


    def abort(self) -> None:
        """Drop what is queued and stop the worker (the caller is failing anyway)."""
        self._error = self._error or RuntimeError("aborted")
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        self._q.put(_DONE)
        self._thread.join(timeout=30)


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error
