"""``MemoryStore.update_shared`` serialises only what an updater changed (issue 10).

The stored bytes of a document written through ``update_shared`` are made from the
bytes of the top-level values the new document kept of the old one
(``store._composed``): these tests hold them to ``orjson.dumps`` of the document, byte
for byte, over seeded random chains of the edits updaters make (values replaced, keys
added, dropped and moved, lists appended to, cut at their start, edited in the middle,
replaced by equal copies),
with the snapshot check off, so nothing but the bytes themselves is compared; and an
updater that breaks the contract (changes a kept list in place) is caught when the
snapshot check is on.
"""

from __future__ import annotations

import random

import orjson
import pytest

from emulator.core import store as store_mod
from emulator.core.store import MemoryStore

T, K, KEY = "t", "qivivo.home", "house"


def big_doc(rng: random.Random) -> dict:
    return {
        "id": "h1", "timezone": "Europe/Paris",
        "programs": {f"p{i}": [{"start": f"{h:02}:00", "t": 19.5} for h in range(24)]
                     for i in range(6)},
        "events": [{"op": "instruction", "t": float(i), "temperature": 20.5}
                   for i in range(rng.randint(0, 40))],
        "history": [{"type": "x", "t": float(i), "n": i} for i in range(rng.randint(8, 50))],
        "setup": 1_700_000_000,
    }


def edit(doc: dict, rng: random.Random, step: int) -> dict:
    """A new document sharing what it keeps, as an update_shared updater makes one."""
    new = dict(doc)
    what = rng.randrange(12)
    name = rng.choice(["events", "history"])
    items = list(new.get(name) or [])
    event = {"op": "e", "t": float(1000 + step), "uni": "é\u2028", "n": step}
    if what == 0:
        items.append(event)
    elif what == 1:
        items = items[1:] + [event]
    elif what == 2:
        items = items[rng.randint(0, len(items)):] + [event]
    elif what == 3 and items:
        items.insert(rng.randrange(len(items)), event)
    elif what == 4 and items:
        items[rng.randrange(len(items))] = event
    elif what == 5:
        items = [dict(x) for x in items]          # equal copies, not the same objects
    elif what == 6:
        items = items[: rng.randint(0, len(items))]
    elif what == 7:
        new["setup"] = step
    elif what == 8:
        new[f"k{step}"] = [step] * rng.randint(0, 12)
    elif what == 9 and len(new) > 3:
        del new[rng.choice([k for k in new if k not in ("events", "history")])]
    elif what == 10:
        new = {k: new[k] for k in rng.sample(list(new), len(new))}   # moved keys
    else:
        new["programs"] = {**new.get("programs", {}), "p0": []}
    if what < 7:
        new[name] = items
    return new


@pytest.mark.parametrize("seed", range(40))
def test_the_stored_bytes_are_the_documents(seed: int, monkeypatch) -> None:
    rng = random.Random(seed)
    store = MemoryStore()
    monkeypatch.setattr(store._snapshots, "check", False)
    store.put(T, K, KEY, big_doc(rng))
    for step in range(60):
        made: list[dict] = []

        def updater(doc: dict | None, step=step, made=made) -> dict:
            made[:] = [edit(doc, rng, step)]   # type: ignore[arg-type]
            return made[0]

        store.update_shared(T, K, KEY, updater)
        assert store._data[(T, K)][KEY] == orjson.dumps(made[0]), (seed, step)
        assert store.get(T, K, KEY) == made[0]


def test_a_value_only_the_slow_encoder_takes() -> None:
    """An integer beyond 64 bits: that value goes through json, the rest as before."""
    store = MemoryStore()
    store.put(T, K, KEY, big_doc(random.Random(2)))
    for n in (2 ** 70, 5, 2 ** 80):
        store.update_shared(T, K, KEY, lambda d, n=n: {**d, "events": [*d["events"], {
            "n": n}] * 4})
        assert store.get(T, K, KEY)["events"][-1] == {"n": n}
    assert store_mod.json.loads(store._data[(T, K)][KEY]) == \
        store_mod.json.loads(store_mod._dumps(store.get(T, K, KEY)))


def test_a_kept_list_changed_in_place_is_caught() -> None:
    store = MemoryStore()
    assert store._snapshots.check   # (tests/conftest.py sets MOCKCLOUD_CHECK_SNAPSHOTS)
    store.put(T, K, KEY, big_doc(random.Random(1)))
    store.update_shared(T, K, KEY, lambda d: {**d, "events": list(d["events"])})

    def cheat(doc):
        doc["history"].append({"type": "x", "t": 1e9, "n": -1})   # the shared list
        return {**doc, "events": list(doc["events"])}

    with pytest.raises(AssertionError):
        store.update_shared(T, K, KEY, cheat)
