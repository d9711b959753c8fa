"""Anchor-state identity (the ``state_key`` info entry).

GiGPO groups turns whose acting agent faces the same decision situation. The key must be equal across
processes, machines and Python versions, so it is a hash (BLAKE2b, 128 bits) of a canonical text
encoding, never Python's ``hash()``, which is salted per process (PYTHONHASHSEED).
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any


def canonical(obj: Any) -> str:
    """Encodes JSON-like data canonically: sorted keys, no whitespace, ASCII only."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def make_state_key(env_id: str, encoding: str) -> str:
    """Hashes ``encoding`` (what the acting agent can know) under the namespace ``env_id``.

    Args:
        env_id: The registered id, version included, so two envs never share keys.
        encoding: A canonical string of the acting agent's information state.

    Returns:
        32 lowercase hex digits.
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(env_id.encode("utf-8"))
    h.update(b"\x00")
    h.update(encoding.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


#: ``make_state_key`` memoized: a pure function of (env id, encoding), and games revisit few information
#: states, so hashing each one once saves a BLAKE2b pass on almost every step.
cached_state_key = functools.lru_cache(maxsize=1 << 16)(make_state_key)
