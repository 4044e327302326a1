"""The replay's peak memory is its own, not its parent's."""

from __future__ import annotations

import subprocess
import sys

from bench.local import peak_mib


def test_peak_memory_of_a_child_leaves_out_its_parent() -> None:
    held = bytearray(300 * 2**20)
    held[:: 2**12] = b"\1" * (len(held) // 2**12)  # a byte in every page makes it resident
    assert peak_mib() > 300
    child = subprocess.run(
        [sys.executable, "-c", "from bench.local import peak_mib; print(peak_mib())"],
        check=True,
        capture_output=True,
        text=True,
    )
    # Python and the libraries the bench imports take well under 300 MiB.
    assert float(child.stdout) < 250
    del held
