"""The energy write path's shortcuts (issue 8, setroomthermpoint's CPU): the state a
write gets is folded from the shared snapshot only when read (``state_at(frozen=True)``),
and ``record`` appends a new last instant directly. Both must read exactly as before."""

from __future__ import annotations

import copy
import random

import pytest

from emulator.netatmo import energy_state as es

ROOMS = ["r1", "r2", "r3"]
T0 = 1_700_000_000


def _home() -> dict:
    schedule = {"id": "s1", "type": "therm", "selected": True, "name": "S", "hg_temp": 7,
                "away_temp": 12, "zones": [{"id": 0, "rooms": [
                    {"id": r, "therm_setpoint_temperature": 19} for r in ROOMS]}],
                "timetable": [{"zone_id": 0, "m_offset": 0}]}
    return {"id": "h1", "timezone": "Europe/Paris", "coordinates": [4.8, 45.7],
            "therm_mode": "schedule", "therm_setpoint_default_duration": 180,
            "rooms": [{"id": r} for r in ROOMS], "schedules": [schedule]}


def _event(rng: random.Random, t: float) -> dict:
    if rng.random() < 0.2:
        return {"kind": "mode", "mode": rng.choice(["away", "hg", "schedule", "off"]),
                "end": t + rng.choice([0, 3600])}
    mode = rng.choice(["manual", "max", "home"])
    return {"kind": "room", "room": rng.choice(ROOMS), "mode": mode,
            "temp": None if mode == "home" else rng.choice([18, 21.5, 30]),
            "end": 0 if mode == "home" else t + 7200}


def _reference(log: list[dict], event: dict, now: float) -> list[dict]:
    """The log with ``event`` made at ``now``: after the events of instants <= now,
    replacing those of its instant and target (what a read at that instant sees)."""
    event = {"at": now, **event}
    key = es._key(event)
    kept = [e for e in log if not (e["at"] == now and es._key(e) == key)]
    i = sum(1 for e in kept if e["at"] <= now)
    return kept[:i] + [event] + kept[i:]


@pytest.mark.parametrize("seed", range(6))
def test_record_keeps_the_log_a_read_expects(seed: int) -> None:
    rng = random.Random(seed)
    home, ref, t = _home(), [], float(T0)
    for _ in range(40):           # under MAX_EVENTS: nothing sealed, the whole log kept
        t += rng.choice([0, 0, 1, 60])            # new instants and repeated ones
        at = t - rng.choice([0, 0, 0, 30])        # and, now and then, an earlier one
        event = _event(rng, at)
        es.record(home, event, at)
        ref = _reference(ref, event, at)
        assert es.events(home) == ref


@pytest.mark.parametrize("seed", range(4))
def test_frozen_state_reads_as_the_captured_one(seed: int) -> None:
    rng = random.Random(seed)
    home, t = _home(), float(T0)
    for _ in range(300):          # past MAX_EVENTS: a base and sealed chunks too
        t += rng.choice([0, 1, 600, 3600])
        es.record(home, _event(rng, t), t)
        es.take_pending(home)
        if rng.random() < 0.1:
            for at in (t, t - 1800, t + 5400):
                frozen = es.state_at(home, at, frozen=True)
                captured = es.state_at(home, at)
                fresh = es.state_at(copy.deepcopy(home), at)
                for st in (frozen, captured):
                    assert (st.mode, st.start, st.end, st.rooms, st.schedules) == \
                        (fresh.mode, fresh.start, fresh.end, fresh.rooms, fresh.schedules)


def test_a_write_gets_the_state_before_it_and_leaves_the_snapshot_as_it_was() -> None:
    home = _home()
    es.record(home, {"kind": "mode", "mode": "away", "end": 0}, T0)
    shared = copy.deepcopy(home)
    before = copy.deepcopy(shared)
    doc = es.thawed(shared)
    state = es.state_at(shared, T0 + 10, frozen=True)      # not read yet
    es.record(doc, {"kind": "mode", "mode": "off", "end": 0}, T0 + 10)
    assert state.mode == "away"                            # the state before the write
    assert es.state_at(doc, T0 + 10).mode == "off"
    assert shared == before


# ---------------------------------------------------------------- the form, split

FORM = "application/x-www-form-urlencoded"
BODIES = [
    b"", b"a", b"a=", b"=b", b"&&", b"a=1&a=2&b", b"a=%41%42&b=%zz&c=%FF&d=%C3%A9",
    b"a+b=c+d&e=%2B", b"x=\xc3\xa9", b"x=\xff\xfe", b"a=1;b=2", b"a=b=c", b"%00=%00",
    "é=ü".encode(), b"home_id=5e5c7a1b2d3e4f50617283a0&room_id=3100000001&mode=manual&temp=21",
]
TYPES = [FORM, FORM + "; charset=UTF-8", "Application/X-WWW-Form-Urlencoded",
         "application/json", "text/plain"]


def _params(body: bytes, ctype: str, query: str = "") -> tuple[dict, dict]:
    """(Params.from_request's values, what parse_qsl and werkzeug's form give)."""
    from urllib.parse import parse_qsl

    from flask import Flask, request

    from emulator.netatmo.transport import Params

    app = Flask(__name__)
    kw = {"method": "POST", "data": body, "content_type": ctype, "query_string": query}
    with app.test_request_context("/api/x", **kw):
        request.environ["mockcloud.body"] = body          # as the app buffers it
        ours = Params.from_request()._values
        ref: dict = {}
        fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True) \
            if request.mimetype == FORM else request.form.items(multi=True)
        for key, value in [*request.args.items(multi=True), *fields]:
            ref.setdefault(key, []).append(value)
    return ours, ref


@pytest.mark.parametrize("ctype", TYPES)
@pytest.mark.parametrize("body", BODIES)
def test_params_read_the_form_as_parse_qsl_does(body: bytes, ctype: str) -> None:
    ours, ref = _params(body, ctype, "a=0&q=1")
    assert ours == ref


def test_random_forms_read_as_parse_qsl_reads_them() -> None:
    rng = random.Random(8)
    alphabet = b"ab=&+%3Z\xc3\xa9\xff;"
    for _ in range(400):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        ours, ref = _params(body, FORM)
        assert ours == ref, body
