"""schemathesis hooks for ``mockcloud fuzz`` (loaded in the schemathesis child through
``SCHEMATHESIS_HOOKS=emulator.toolkit.fuzz_hooks``).

One auth provider: each test case gets the next bearer token of the rotation that
``mockcloud fuzz`` put in ``MOCKCLOUD_FUZZ_TOKENS`` (a JSON list of tokens, a token
listed twice is used twice as often), so the cases are spread over the tokens of every
grant the vendor has (e.g. Netatmo: authorization code, refresh, legacy password). No
caching (``refresh_interval=None``): ``get`` runs for every case; the run uses one
worker, so the rotation is deterministic for a seed.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

import schemathesis

TOKENS: list[str] = [t for t in json.loads(os.environ.get("MOCKCLOUD_FUZZ_TOKENS") or "[]")
                     if isinstance(t, str) and t]

if TOKENS:
    _ROTATION = itertools.cycle(TOKENS)

    @schemathesis.auth(refresh_interval=None)
    class RotatingBearer:
        """The next token of the rotation, as ``Authorization: Bearer``."""

        def get(self, case: Any, ctx: Any) -> str:
            return next(_ROTATION)

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"
