"""Record and job ids."""
from __future__ import annotations

import os
import threading

_ID_LOCK = threading.Lock()
_ID_POOL = bytearray()
_ID_PID = 0


def new_id() -> str:
    """A random 128-bit id in hex. Drawn from a pool filled 4 KiB at a time from os.urandom:
    on the hot path a syscall per id means giving up and re-taking the GIL each time."""
    global _ID_POOL, _ID_PID
    with _ID_LOCK:
        if len(_ID_POOL) < 16 or _ID_PID != os.getpid():  # a forked child must not reuse its parent's bytes
            _ID_POOL, _ID_PID = bytearray(os.urandom(4096)), os.getpid()
        raw = bytes(_ID_POOL[-16:])
        del _ID_POOL[-16:]
    return raw.hex()
