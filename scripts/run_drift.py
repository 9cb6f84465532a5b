"""Does the emulator still behave like the recorded clouds? (``make drift``)

Runs ``mockcloud drift`` (the emulator started by it, default world, in memory) on the
Lightify seed cassettes (``fixtures/cassettes/lightify``), the Qivivo samples
(``tests/data/qivivo``) and the real-shaped Netatmo samples
(``../shared/real-samples/netatmo``; skipped with SKIP when missing), with the default
threshold (any missing key path or leaf type difference fails). The table goes to the
output and ``reports/drift.txt``; the JSON report to ``reports/drift.json``.

Known drift accepted for now (``--ignore``), each with its reason: none today
(homesdata shows a device's live state where the world asks for that shape, issue 12).
"""

from __future__ import annotations

import sys

from _emulator import ROOT, SHARED, run_bounded, run_main, say

NETATMO = SHARED / "real-samples" / "netatmo"
INPUTS = [ROOT / "fixtures" / "cassettes" / "lightify", ROOT / "tests" / "data" / "qivivo"]
KNOWN_DRIFT: list[str] = []
TIMEOUT = 300.0


def main() -> int:
    paths = [str(p) for p in INPUTS]
    if NETATMO.is_dir():
        paths.append(str(NETATMO))
    else:
        say(f"SKIP run_drift: the real Netatmo samples: {NETATMO} is missing.")
    reports = ROOT / "reports"
    reports.mkdir(exist_ok=True)
    ignore = [arg for path in KNOWN_DRIFT for arg in ("--ignore", path)]
    cmd = [sys.executable, "-m", "emulator.cli", "drift", *paths, *ignore,
           "--report", str(reports / "drift.json")]
    status = run_bounded(cmd, TIMEOUT, "mockcloud drift", tee=reports / "drift.txt",
                         cwd=ROOT)
    verdict = {0: "OK: no drift past the threshold",
               1: "FAIL: the emulator drifts from the recordings (see above)",
               2: "FAIL: mockcloud drift could not use its input (see above)"}
    say(f"run_drift: {verdict.get(status, f'FAIL: exit status {status}')}")
    return status


if __name__ == "__main__":
    run_main(main)
