"""The cross-process lease: exclusive, refuses clearly, never blocked by a dead holder."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.lease import Holder, Lease, LeaseHeldError, lease_name


def test_one_holder_at_a_time_and_a_clear_refusal(storage_root: StorageRoot) -> None:
    name = lease_name("pass1", "2025-12-11-08:00")
    with Lease(storage_root, name):
        with pytest.raises(LeaseHeldError, match="already running"):
            Lease(storage_root, name, wait_s=0).acquire()
    with Lease(storage_root, name, wait_s=0):  # released: free again
        pass


def _plant(root: StorageRoot, name: str, holder: Holder) -> None:
    root.write_bytes_atomic(root.path("_leases", name + ".json"), holder.to_bytes())


def test_a_lease_of_a_dead_process_is_taken_over_at_once(storage_root: StorageRoot) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    now = time.time()
    _plant(storage_root, "p", Holder("t", socket.gethostname(), int(dead.stdout), now, now + 999))
    with Lease(storage_root, "p", wait_s=0) as lease:
        assert lease.waited_s < 5


def test_an_expired_lease_of_another_host_is_taken_over(storage_root: StorageRoot) -> None:
    now = time.time()
    _plant(storage_root, "q", Holder("t", "elsewhere", 1, now - 500, now - 1))
    with Lease(storage_root, "q", wait_s=0):
        pass
    _plant(storage_root, "r", Holder("t", "elsewhere", 1, now, now + 999))
    with pytest.raises(LeaseHeldError):
        Lease(storage_root, "r", wait_s=0).acquire()
