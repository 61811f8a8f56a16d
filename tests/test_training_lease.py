"""The lease on a run directory: one holder at a time across processes (and hosts, as far as one machine
can show it), re-entrant within a process, kept alive by a heartbeat, taken over only when stale."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from stablenets.training.lease import LEASE_FILE, Lease, LeaseHeld, machine

SRC = str(Path(__file__).resolve().parents[1] / "src")
LEASE_PY = str(Path(SRC) / "stablenets" / "training" / "lease.py")


def _holder(run_dir: Path, expiry: float, then: str = "sleep") -> subprocess.Popen:
    """A process that holds the lease of ``run_dir`` (prints "held"), then sleeps or checks its lease."""
    code = textwrap.dedent(f"""
        import importlib.util, sys, time
        spec = importlib.util.spec_from_file_location("lease", {LEASE_PY!r})  # alone: no torch to import
        lease_module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(lease_module)
        Lease, LeaseLost = lease_module.Lease, lease_module.LeaseLost
        lease = Lease({str(run_dir)!r}, expiry={expiry})
        assert lease.acquire()
        print("held", flush=True)
        sys.stdin.readline()
        try:
            lease.check()
            print("still mine", flush=True)
        except LeaseLost as err:
            print("lost:", err, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": SRC})
    assert proc.stdout.readline().strip() == "held"
    return proc


def _record(run_dir: Path) -> dict:
    return json.loads((run_dir / LEASE_FILE).read_text())


def test_one_holder_re_entrant_in_its_process_and_released_at_the_last_release(tmp_path):
    run = tmp_path / "run"
    outer, inner = Lease(run), Lease(run)
    assert outer.acquire() and inner.acquire()  # the trainer inside a worker: the worker's lease
    token = _record(run)["token"]
    inner.release()
    assert (run / LEASE_FILE).is_file() and _record(run)["token"] == token  # still held by the outer acquire
    outer.release()
    assert not (run / LEASE_FILE).exists() and Lease(run).holder() is None
    with Lease(run) as lease:
        assert lease.held and Lease(run).holder()["pid"] == os.getpid()


def test_a_live_holder_in_another_process_is_never_taken_and_a_killed_one_at_once(tmp_path):
    proc = _holder(tmp_path, expiry=60)
    try:
        assert not Lease(tmp_path).acquire()
        with pytest.raises(LeaseHeld, match=f"pid {proc.pid} on"):
            Lease(tmp_path).hold()
    finally:
        proc.kill()
        proc.wait()
    lease = Lease(tmp_path)  # its process is gone, on this machine: no need to wait for the expiry
    assert lease.acquire() and lease.taken_over["pid"] == proc.pid
    lease.release()


def test_the_heartbeat_keeps_a_lease_alive_past_its_expiry_and_a_frozen_holder_loses_it(tmp_path):
    proc = _holder(tmp_path, expiry=0.6)
    try:
        first = _record(tmp_path)["heartbeat"]
        time.sleep(1.5)  # two and a half expiries: only the heartbeat keeps it
        assert _record(tmp_path)["heartbeat"] > first
        assert not Lease(tmp_path).acquire()
        os.kill(proc.pid, signal.SIGSTOP)  # a node that stops answering: alive, but no heartbeat
        deadline = time.time() + 10
        taker = Lease(tmp_path, expiry=30)
        while not taker.acquire():
            assert time.time() < deadline, "a stale lease was never taken over"
            time.sleep(0.1)
        assert time.time() - taker.taken_over["heartbeat"] > 0.6
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.5)  # its heartbeat finds the lease gone
        proc.stdin.write("\n")
        proc.stdin.flush()
        said = proc.stdout.readline()
        assert said.startswith("lost:") and "was taken over" in said and "stopped without writing" in said
        assert _record(tmp_path)["token"] == taker._claim.record["token"]  # it did not write the lease back
        taker.release()
    finally:
        proc.kill()
        proc.wait()


def test_another_hosts_lease_is_taken_after_its_expiry_only(tmp_path):
    now = time.time()
    other = {"holder": "node7:4242:ab", "host": "node7", "machine": "node7/1234/99", "pid": 4242, "token": "ab",
             "heartbeat": now - 5, "expiry": 30}
    (tmp_path / LEASE_FILE).write_text(json.dumps(other))
    assert not Lease(tmp_path).acquire()  # pid 4242 means nothing here: only the heartbeat counts
    (tmp_path / LEASE_FILE).write_text(json.dumps({**other, "heartbeat": now - 31}))
    lease = Lease(tmp_path)
    assert lease.acquire() and lease.taken_over["host"] == "node7"
    assert _record(tmp_path)["machine"] == machine()
    lease.release()


def test_a_damaged_lease_file_goes_stale_by_its_age(tmp_path, monkeypatch):
    monkeypatch.setenv("STABLENETS_LEASE_EXPIRY", "5")
    path = tmp_path / LEASE_FILE
    path.write_text('{"holder": "no')
    assert not Lease(tmp_path).acquire()  # just written: perhaps a live holder's, wait for the expiry
    os.utime(path, (time.time() - 6, time.time() - 6))
    (tmp_path / f"{LEASE_FILE}.0badc0de.new").write_text("{")  # a heartbeat killed mid-write
    lease = Lease(tmp_path)
    assert lease.acquire() and lease.taken_over.get("damaged")
    assert not list(tmp_path.glob("*.new"))
    lease.release()
    monkeypatch.setenv("STABLENETS_LEASE_EXPIRY", "0")
    with pytest.raises(ValueError, match="STABLENETS_LEASE_EXPIRY"):
        Lease(tmp_path)


def _race(run_dirs, barrier, results):
    barrier.wait()
    won = [str(d) for d in run_dirs if Lease(d).acquire()]
    results.put((os.getpid(), won))
    barrier.wait()  # hold every lease won until all have tried


def test_many_processes_racing_for_stale_leases_each_won_exactly_once(tmp_path):
    ctx = mp.get_context("fork")
    runs = [tmp_path / f"run{i}" for i in range(12)]
    for i, run in enumerate(runs):  # half free, half left by a holder on another host long dead
        run.mkdir()
        if i % 2:
            (run / LEASE_FILE).write_text(json.dumps({"token": "dead", "host": "gone", "machine": "gone", "pid": 1,
                                                      "heartbeat": time.time() - 1e4, "expiry": 60}))
    n = 6
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(runs, barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    got = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
    winners = {str(r): [pid for pid, won in got if str(r) in won] for r in runs}
    assert all(len(w) == 1 for w in winners.values()), winners
