"""Bounded queues between the stages of the pipelined video path.

Decoding, stylizing and encoding run concurrently: a reader thread fills a bounded queue
(:func:`prefetch`), the caller stylizes, and a writer thread drains another bounded queue
(:class:`BackgroundSink`). Bounded queues keep memory flat on long videos; one thread per
stage keeps frames in order. PyAV, OpenCV and ONNX Runtime release the GIL while they
work, so the stages really overlap. Errors in a stage are re-raised in the caller.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()
_POLL = 0.1  # seconds between checks of the stop flag while a queue is full


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put unless asked to stop; False when stopped."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def prefetch(iterable: Iterable[T], size: int = 4, name: str = "reader") -> Iterator[T]:
    """Iterate ``iterable`` in a background thread, at most ``size`` items ahead."""
    q: queue.Queue = queue.Queue(maxsize=size)
    stop = threading.Event()

    def run() -> None:
        try:
            for item in iterable:
                if not _put(q, item, stop):
                    return
        except BaseException as e:  # handed to the consumer
            _put(q, _Failure(e), stop)
            return
        _put(q, _END, stop)

    thread = threading.Thread(target=run, name=f"rtstyle-{name}", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()


class BackgroundSink(Generic[T]):
    """Calls ``consume(item)`` for each :meth:`put` item in a background thread, at most
    ``size`` items behind. :meth:`close` waits for the rest; a failure in ``consume`` is
    raised by the next :meth:`put` or by :meth:`close`."""

    def __init__(self, consume: Callable[[T], None], size: int = 4, name: str = "writer"):
        self._consume = consume
        self._q: queue.Queue = queue.Queue(maxsize=size)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"rtstyle-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _END:
                return
            if self._error is None:
                try:
                    self._consume(item)
                except BaseException as e:
                    self._error = e
                    self._stop.set()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def put(self, item: T) -> None:
        self._raise()
        _put(self._q, item, self._stop)
        self._raise()

    def close(self) -> None:
        """Wait until every item is consumed; raise a failure of ``consume``."""
        self._q.put(_END)
        self._thread.join()
        self._raise()

    def __enter__(self) -> "BackgroundSink[T]":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:  # the caller failed: stop quickly, drop what is queued
            self._stop.set()
            with_end = False
            while not with_end:
                try:
                    self._q.put(_END, timeout=_POLL)
                    with_end = True
                except queue.Full:
                    try:
                        self._q.get_nowait()
                    except queue.Empty:
                        pass
            self._thread.join()
