"""Check the real-shaped Netatmo samples against the contracts (``make contracts``).

Runs ``python -m contracts.verify ../shared/real-samples/netatmo [PATH...]`` and exits
with its status (0 all passed, 1 some failed, 2 unusable input). Extra PATHs (folders of
samples or cassettes inside the repository) are verified along with the samples.
When ``../shared`` is missing the samples are skipped (SKIP, exit 0 if nothing else is
left to verify); so is everything when the ``contracts.verify`` module is not there.
"""

from __future__ import annotations

import importlib.util
import sys

from _emulator import ROOT, SHARED, run_bounded, run_main, say

SAMPLES = SHARED / "real-samples" / "netatmo"
TIMEOUT = 300.0


def main() -> int:
    paths = list(sys.argv[1:])
    if SAMPLES.is_dir():
        paths.insert(0, str(SAMPLES))
    else:
        why = f"{SHARED} is missing" if not SHARED.is_dir() else f"{SAMPLES} is missing"
        say(f"SKIP verify_real_samples: the real Netatmo samples: {why}.")
    if not paths:
        return 0
    sys.path.insert(0, str(ROOT))
    if importlib.util.find_spec("contracts.verify") is None:
        say("SKIP verify_real_samples: the module contracts.verify is not there yet.")
        return 0
    status = run_bounded([sys.executable, "-m", "contracts.verify", *paths], TIMEOUT,
                         "contracts.verify", cwd=ROOT)
    verdict = {0: "OK: every sample matches its contract",
               1: "FAIL: some samples do not match their contracts (see above)",
               2: "FAIL: contracts.verify could not use its input (see above)"}
    say(f"verify_real_samples: {verdict.get(status, f'FAIL: exit status {status}')}")
    return status


if __name__ == "__main__":
    run_main(main)
