"""The writers of one SQLite file take turns through a kernel lock (lotline.db.WriterQueue).

These run on a SQLite file of their own whichever database the suite is pointed at: the
queue exists only for SQLite, and a server database has none.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app import create_app
from lotline import inventory
from lotline.db import WriterQueue, _writers_turn, retryable, write_transaction, writer_queue
from lotline.extensions import db

ROOT = Path(__file__).resolve().parents[1]

HOLDER = """
import sys, time
from lotline.db import WriterQueue
queue = WriterQueue(sys.argv[1])
with queue.turn():
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    print(repr(time.time()), flush=True)
"""


@pytest.fixture
def sqlite_app(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "t",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'queue.db'}"})
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def hold(path: str, seconds: float) -> subprocess.Popen:
    """Another process holding the turn for ``seconds`` (forever: a large number)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, path, str(seconds)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def in_thread(fn, timeout: float = 20) -> float:
    """Run ``fn`` in a thread; the time it finished (fails if it hangs)."""
    from flask import current_app

    app = current_app._get_current_object()
    done: list[float] = []
    errors: list[BaseException] = []

    def run():
        try:
            with app.app_context():
                fn()
            done.append(time.time())
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the writer never got its turn"
    assert not errors, errors
    return done[0]


def test_a_sqlite_file_has_a_queue_beside_it_and_memory_none(sqlite_app, tmp_path):
    queue = writer_queue(db.engine)
    assert queue is not None
    assert queue.path == str(tmp_path / "queue.db") + "-writers"
    assert writer_queue(create_engine("sqlite://")) is None
    assert writer_queue(create_engine("postgresql+psycopg://u@127.0.0.1/none")) is None


def test_a_put_waits_while_another_process_has_the_turn(sqlite_app):
    from lotline import items, locations

    items.create_item(db.session, sku="Q-1")
    locations.add_location(db.session, "Q-01")
    db.session.commit()
    holder = hold(writer_queue(db.engine).path, 0.5)
    try:
        finished = in_thread(lambda: inventory.put(
            db.session, location="Q-01", sku="Q-1", lot=None, qty=3,
            actor=inventory.Actor(None, "t")))
        released = float(holder.stdout.readline())
    finally:
        holder.wait(10)
        holder.stdout.close()
    assert finished >= released  # it wrote only after the other process let go
    db.session.expire_all()
    rows = inventory.query_inventory(db.session, location="Q-01")
    assert [(r.item.sku, r.qty) for r in rows] == [("Q-1", 3)]


def test_a_killed_holder_does_not_block_the_next_writer(sqlite_app):
    holder = hold(writer_queue(db.engine).path, 3600)
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    holder.stdout.close()

    def write():
        with write_transaction(db.session):
            pass

    in_thread(write, timeout=10)


def test_threads_of_one_process_take_turns(sqlite_app):
    """A flock is shared by the threads using one file, so a thread lock orders them."""
    queue = WriterQueue(writer_queue(db.engine).path)
    inside, most = [0], [0]
    lock = threading.Lock()

    def writer():
        for _ in range(200):
            with queue.turn():
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.0001)
                with lock:
                    inside[0] -= 1

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert most[0] == 1


def test_a_turn_inside_a_turn_does_not_wait_for_itself(sqlite_app):
    def nested():
        with _writers_turn(db.session):
            with _writers_turn(db.session):
                pass

    in_thread(nested, timeout=10)
    in_thread(nested, timeout=10)  # and it was given back


def in_child(work) -> bytes:
    """Fork; ``work()`` runs in the child and returns up to 64 bytes, read back here."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, work())
        finally:
            os._exit(0)
    os.close(write)
    try:
        answer = os.read(read, 64)
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    return answer


def test_a_forked_child_does_not_share_the_parents_turn(sqlite_app):
    """gunicorn forks its workers: a worker sharing its parent's open file would share the
    parent's flock too, and both would write at once."""
    queue = WriterQueue(writer_queue(db.engine).path, timeout=0.3)

    def child_tries():
        try:
            with queue.turn():
                return b"got in"
        except OperationalError:
            return b"waited"

    with queue.turn():
        assert in_child(child_tries) == b"waited"
    assert in_child(child_tries) == b"got in"


@contextmanager
def another_thread_holding(queue: WriterQueue):
    """Another thread of this process holds the turn until the block sets the event it
    is given (or the block ends)."""
    holding, release = threading.Event(), threading.Event()

    def holder():
        with queue.turn():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(10)
    try:
        yield release
    finally:
        release.set()
        thread.join(10)


def test_a_child_forked_while_another_thread_has_the_turn_can_write(sqlite_app):
    """The thread holding the turn does not exist in the child: its thread lock must not
    stay taken there."""
    queue = WriterQueue(writer_queue(db.engine).path, timeout=5)

    def child_writes():
        try:
            with queue.turn():
                return b"wrote"
        except OperationalError:
            return b"stuck"

    with another_thread_holding(queue) as release:
        threading.Timer(0.2, release.set).start()  # the parent's thread lets go soon
        assert in_child(child_writes) == b"wrote"


def test_a_writer_waits_for_its_turn_no_longer_than_the_timeout(sqlite_app):
    """Behind a writer that does not finish (or waits itself for a migration holding
    SQLite's lock), the next one is told the database is locked in the busy timeout, as
    SQLite would tell it, not queued for ever."""
    holder = hold(writer_queue(db.engine).path, 3600)
    try:
        queue = WriterQueue(writer_queue(db.engine).path, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked") as raised:
            with queue.turn():
                pass
        assert 0.3 <= time.monotonic() - started < 3
        assert retryable(raised.value)  # the transactions retry it, as SQLite's own
        assert queue._threads.acquire(blocking=False)  # nothing left taken
        queue._threads.release()
    finally:
        holder.kill()
        holder.wait(10)
        holder.stdout.close()


def test_threads_behind_a_stuck_one_are_told_within_the_timeout(sqlite_app):
    queue = WriterQueue(writer_queue(db.engine).path, timeout=0.3)
    with another_thread_holding(queue):
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            with queue.turn():
                pass
        assert time.monotonic() - started < 3


def test_disposing_the_engine_closes_the_lock_file(sqlite_app):
    queue = writer_queue(db.engine)
    with write_transaction(db.session):
        pass
    fd = queue._fd
    assert fd is not None and os.fstat(fd)
    db.session.remove()
    db.engine.dispose()
    assert queue._fd is None
    with pytest.raises(OSError):
        os.fstat(fd)
    with write_transaction(db.session):  # and it opens again when needed
        pass
    assert queue._fd is not None


def test_a_lock_file_that_cannot_be_opened_leaves_writes_working(sqlite_app, monkeypatch,
                                                               caplog):
    """A lock file the server may not open (made by another user, say): the writes go on
    under SQLite's own lock, and the log says why they queue no more."""
    queue = writer_queue(db.engine)
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if path == queue.path:
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    monkeypatch.setattr(queue, "_pid", None)  # as a new worker: open it again
    with write_transaction(db.session):
        db.session.execute(text("INSERT INTO location (code, zone, type, active) "
                                "VALUES ('Q-02', '', 'storage', 1)"))
    assert db.session.scalar(text("SELECT count(*) FROM location")) == 1
    assert "wait as SQLite makes them" in caplog.text


def test_the_lock_file_is_made_readable_by_all_and_opened_read_only(sqlite_app):
    queue = WriterQueue(writer_queue(db.engine).path + "-mode")
    with queue.turn():
        pass
    assert os.stat(queue.path).st_mode & 0o777 == 0o644 & ~current_umask()
    os.chmod(queue.path, 0o444)  # read-only is enough for another worker to queue
    other = WriterQueue(queue.path)
    with other.turn():
        assert other._fd is not None


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_the_queue_gives_up_when_sqlite_would(sqlite_app):
    from lotline.db import BUSY_TIMEOUT_MS

    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS
    assert writer_queue(db.engine).timeout == BUSY_TIMEOUT_MS / 1000
