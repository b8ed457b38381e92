"""The product hashes passwords with Argon2id at argon2-cffi's recommended parameters (RFC 9106's
low-memory profile: 64 MiB, 3 passes, 4 lanes) — the test suite itself runs on the cheapest
profile (``conftest._cheap_password_hashing``), so this is where the real ones are checked."""

from __future__ import annotations

import subprocess  # nosec B404
import sys

from argon2 import extract_parameters
from argon2.profiles import RFC_9106_LOW_MEMORY


def test_a_fresh_process_hashes_with_the_recommended_parameters() -> None:
    code = "from khoyte.security.passwords import hash_password; print(hash_password('x-y-z'))"
    out = subprocess.run(  # nosec B603
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    params = extract_parameters(out)
    assert out.startswith("$argon2id$")
    assert params.memory_cost == RFC_9106_LOW_MEMORY.memory_cost == 65536
    assert params.time_cost == RFC_9106_LOW_MEMORY.time_cost
    assert params.parallelism == RFC_9106_LOW_MEMORY.parallelism
