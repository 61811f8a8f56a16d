"""Leases: who may write a run directory, for any number of processes on any number of hosts.

A run directory is written by the holder of its lease and by no one else: the reproduce worker
that claims a run, the trainer that trains it (inside the worker, or ``stablenets train`` alone),
and the packed trainer for each of its runs all take the same :class:`Lease`.

    lease = Lease(run_dir)
    if lease.acquire():          # False: another live process holds it
        try:
            ...                  # write run_dir; lease.check() raises LeaseLost if it was taken over
        finally:
            lease.release()

    with Lease(run_dir):         # or: raises LeaseHeld (a ValueError) naming the holder
        ...

The lease is the file ``<run>/.lease``, one JSON object: the holder (``host:pid:token``, the token
random), the machine it runs on, its expiry and the time of its last heartbeat. While a lease is
held, a daemon thread rewrites the heartbeat every ``expiry / 4`` seconds. Another process takes a
lease over only when it is stale:

- its heartbeat is older than its expiry (the holder died, was killed, or lost its node), or
- the holder ran on this machine (same host name, boot and pid namespace) and its pid is gone,
  which makes a sweep killed with ``kill -9`` free to rerun at once.

A live lease from another host is never taken. Hosts are assumed to keep their clocks within a
small part of the expiry of each other (NTP); the expiry is ``$STABLENETS_LEASE_EXPIRY`` seconds
(default :data:`DEFAULT_EXPIRY`). Every read-decide-write of the lease file happens under a short
exclusive lock on ``<run>/.lease.lock`` (``filelock``: ``flock``, which NFSv4 and cluster
filesystems carry across hosts, with filelock's own fallback where ``flock`` is missing), and the
lease file itself is replaced with a rename, so a reader never sees half of one.

Leases are re-entrant within a process: acquiring a lease this process already holds succeeds and
counts, and the lease is given up at the last release. So a worker that holds a run's lease calls
``train`` on it, and the trainer's own acquire is the worker's lease.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from pathlib import Path

__all__ = ["Lease", "LeaseHeld", "LeaseLost", "DEFAULT_EXPIRY", "EXPIRY_ENV", "LEASE_FILE", "machine",
           "describe_holder"]

LEASE_FILE = ".lease"
MUTEX_FILE = ".lease.lock"
EXPIRY_ENV = "STABLENETS_LEASE_EXPIRY"
DEFAULT_EXPIRY = 120.0
MUTEX_TIMEOUT = 60.0  # the mutex is held for one small read and write; a wait this long means a hung filesystem


class LeaseHeld(ValueError):
    """Another live process holds the lease on the run directory."""


class LeaseLost(RuntimeError):
    """This process's lease was taken over: its heartbeat stopped for longer than the expiry."""


def _read_id(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def machine() -> str:
    """This machine as a pid sees it: host name, boot id and pid namespace (pids mean the same within one)."""
    boot = _read_id("/proc/sys/kernel/random/boot_id")[:8]
    try:
        ns = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        ns = ""
    return f"{socket.gethostname()}/{boot}/{ns}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def describe_holder(record: dict | None) -> str:
    if not record:
        return "an unknown process"
    age = time.time() - float(record.get("heartbeat", 0))
    return f"pid {record.get('pid', '?')} on {record.get('host', '?')} (heartbeat {age:.0f} s ago)"


def _expiry_default() -> float:
    raw = os.environ.get(EXPIRY_ENV)
    if raw is None:
        return DEFAULT_EXPIRY
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"${EXPIRY_ENV} = {raw!r}: must be a number of seconds > 0")
    return value


class _Claim:
    """This process's holding of one lease: the token, how many acquires, the heartbeat thread."""

    def __init__(self, lease: "Lease", record: dict):
        self.record, self.count, self.lost = record, 1, False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, args=(lease,), daemon=True,
                                       name=f"lease-heartbeat {lease.run_dir.name}")

    def _beat(self, lease: "Lease") -> None:
        while not self.stop.wait(lease.interval):
            try:
                with lease._mutex():
                    current = lease._read()
                    if current is None or current.get("token") != self.record["token"]:
                        self.lost = True
                        return
                    self.record = dict(self.record, heartbeat=time.time())
                    lease._write(self.record)
            except Exception:  # a filesystem hiccup: beat again next interval (expiry is several intervals)
                continue


_HELD: dict[str, _Claim] = {}
_HELD_LOCK = threading.Lock()


class Lease:
    """The lease on ``run_dir`` (see the module docstring); ``expiry`` in seconds."""

    def __init__(self, run_dir: str | os.PathLike, expiry: float | None = None):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LEASE_FILE
        self.expiry = float(expiry) if expiry is not None else _expiry_default()
        if not self.expiry > 0:
            raise ValueError(f"lease expiry must be > 0 seconds, got {expiry!r}")
        self.interval = self.expiry / 4
        self.taken_over: dict | None = None  # the stale holder this acquire replaced, if any
        self._claim: _Claim | None = None

    # -- the file ---------------------------------------------------------------------------------
    def _mutex(self):
        from filelock import FileLock

        return FileLock(str(self.run_dir / MUTEX_FILE), timeout=MUTEX_TIMEOUT, thread_local=False)

    def _read(self) -> dict | None:
        """The lease record; None when there is no lease. A damaged file reads as a record whose
        heartbeat is the file's modification time (so it goes stale after the default expiry)."""
        try:
            text = self.path.read_text()
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        try:
            record = json.loads(text)
            if isinstance(record, dict) and "token" in record and "heartbeat" in record:
                return record
        except ValueError:
            pass
        return {"token": None, "heartbeat": mtime, "expiry": _expiry_default(), "damaged": True}

    def _write(self, record: dict) -> None:
        tmp = self.path.with_name(f"{LEASE_FILE}.{record['token']}.new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, (json.dumps(record) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def _stale(self, record: dict, now: float) -> bool:
        if now - float(record.get("heartbeat", 0)) > float(record.get("expiry", self.expiry)):
            return True
        return record.get("machine") == machine() and not _alive(int(record.get("pid", -1)))

    # -- the API ----------------------------------------------------------------------------------
    def holder(self) -> dict | None:
        """The live holder's record (any process, this one included), or None when the lease is free."""
        record = self._read()
        return None if record is None or self._stale(record, time.time()) else record

    def acquire(self) -> bool:
        """Take the lease (or count one more acquire of a lease this process holds); False if held elsewhere."""
        from filelock import Timeout

        self.run_dir.mkdir(parents=True, exist_ok=True)
        key = str(self.run_dir.resolve())
        with _HELD_LOCK:
            claim = _HELD.get(key)
            if claim is not None and not claim.lost:
                claim.count += 1
                self._claim = claim
                return True
            try:
                with self._mutex():
                    current = self._read()
                    if current is not None and not self._stale(current, time.time()):
                        return False
                    for leftover in self.run_dir.glob(f"{LEASE_FILE}.*.new"):  # a writer killed mid-write
                        leftover.unlink(missing_ok=True)  # (every writer writes under the mutex we hold)
                    token = secrets.token_hex(8)
                    now = time.time()
                    record = {"holder": f"{socket.gethostname()}:{os.getpid()}:{token}", "host": socket.gethostname(),
                              "machine": machine(), "pid": os.getpid(), "token": token, "acquired": now,
                              "heartbeat": now, "expiry": self.expiry}
                    self._write(record)
            except Timeout:
                return False
            self.taken_over = current
            claim = _Claim(self, record)
            _HELD[key] = claim
            self._claim = claim
        claim.thread.start()
        return True

    def hold(self) -> "Lease":
        """:meth:`acquire`, or one :class:`LeaseHeld` naming the holder."""
        if not self.acquire():
            raise LeaseHeld(f"another process ({describe_holder(self.holder())}) is writing {self.run_dir}; "
                            f"wait for it to finish (a holder that died is taken over {self.expiry:.0f} s after "
                            f"its last heartbeat, at once on its own machine)")
        return self

    @property
    def held(self) -> bool:
        return self._claim is not None and not self._claim.lost

    def check(self) -> None:
        """Raise :class:`LeaseLost` if this process's lease was taken over (call before writing)."""
        if self._claim is not None and self._claim.lost:
            raise LeaseLost(f"the lease on {self.run_dir} was taken over by {describe_holder(self._read())}: this "
                            f"process did not renew it for {self.expiry:.0f} s (suspended, or the filesystem was "
                            f"unreachable); stopped without writing. The run continues under its new holder")

    def release(self) -> None:
        """Give up one acquire; the last one stops the heartbeat and removes the lease file."""
        claim, self._claim = self._claim, None
        if claim is None:
            return
        key = str(self.run_dir.resolve())
        with _HELD_LOCK:
            claim.count -= 1
            if claim.count > 0:
                return
            if _HELD.get(key) is claim:
                del _HELD[key]
        claim.stop.set()
        if claim.thread.is_alive() and claim.thread is not threading.current_thread():
            claim.thread.join()
        if claim.lost:
            return
        try:
            with self._mutex():
                current = self._read()
                if current is not None and current.get("token") == claim.record["token"]:
                    self.path.unlink()
        except (OSError, ValueError):
            pass  # the lease goes stale by itself

    def __enter__(self) -> "Lease":
        return self.hold()

    def __exit__(self, *exc) -> None:
        self.release()
