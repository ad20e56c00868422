"""The collection's readers-writer lock: readers share it, a writer waits for them and has it
alone, and a waiting writer goes before new readers."""

from __future__ import annotations

import threading
import time

from vqdb.collection.locks import ReadWriteLock


def test_readers_share_and_a_writer_waits_for_them() -> None:
    lock = ReadWriteLock()
    events: list[str] = []
    with lock.read(), lock.read():  # two readers at once (nested: the same thread)
        writer = threading.Thread(target=lambda: _write(lock, events))
        writer.start()
        time.sleep(0.2)
        assert events == []  # the writer waits while readers hold the lock
        events.append("readers done")
    writer.join(5)
    assert events == ["readers done", "wrote"]


def test_a_waiting_writer_goes_before_new_readers() -> None:
    lock = ReadWriteLock()
    events: list[str] = []
    reading = threading.Event()

    def read() -> None:
        with lock.read():
            events.append("read")

    with lock.read():
        writer = threading.Thread(target=lambda: _write(lock, events))
        writer.start()
        while not lock._waiting_writers:  # the writer is queued
            time.sleep(0.01)
        reader = threading.Thread(target=lambda: (reading.set(), read()))
        reader.start()
        reading.wait(5)
        time.sleep(0.2)
        assert events == []  # the new reader waits behind the writer
    writer.join(5)
    reader.join(5)
    assert events == ["wrote", "read"]


def test_an_error_inside_releases_the_lock() -> None:
    lock = ReadWriteLock()
    try:
        with lock.read():
            raise KeyError("inside")
    except KeyError:
        pass
    events: list[str] = []
    _write(lock, events)
    assert events == ["wrote"]


def _write(lock: ReadWriteLock, events: list[str]) -> None:
    with lock.write():
        events.append("wrote")
