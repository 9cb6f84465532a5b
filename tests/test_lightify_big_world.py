"""Lightify's listings, and a login, read the user's documents only, whatever the
world's size.

Issue 11 wants a request's cost flat from 1 to 10,000 homes. ``GET /v4/devices``,
``/groups`` and ``/scenes`` used to read every Lightify document of the tenant and
keep the user's: 103 ms a listing in a 2,000-home world. Now the world writes, per
user, the ids of their documents (``lightify.owned``) and a listing reads those. A
state written by an older mockcloud (SQLite, Redis) has no such index: then the
listing reads the whole kind, as before, and answers the same.

The same for a user named by id rather than login (an admin token for a user id, a
client's owner) and for a login nobody has (a wrong username at the password grant):
every user was read, 31 ms a try at 10,000 homes. The world now writes each user's
login by id (``<vendor>.user_id``), so ``oauth.find_user`` reads one or two documents.
"""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from emulator.app import create_app
from emulator.generate import generate
from emulator.lightify import models as m
from emulator.settings import Settings

HOMES = 40
KINDS = (m.DEVICE, m.GROUP, m.SCENE, m.OWNED, "netatmo.user", "netatmo.user_id")


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path = tmp_path_factory.mktemp("world") / "world.yaml"
    path.write_text(generate(homes=HOMES, seed=5))
    app = create_app(Settings(world=str(path), world_cache="off"))
    client = Client(app)
    app.ensure_world("default", 0.0)
    users = sorted(app.store.list("default", m.OWNED))
    assert len(users) == HOMES
    return app, client, users


def _admin_token(client: Client, user: str, vendor: str = "netatmo"):
    """``POST /_mockcloud/tokens`` for ``user`` (a login or an id) through the CI app."""
    return client.post("/_mockcloud/tokens", json={
        "vendor": vendor, "client_id": f"{vendor}-ci", "user": user})


def _token(client: Client, user_id: str) -> str:
    r = _admin_token(client, user_id, "lightify")
    assert r.status_code in (200, 201), r.get_data()
    return r.json["access_token"]


class Reads:
    """Counts the Lightify documents the store is asked for, by kind."""

    def __init__(self, store) -> None:
        self.store, self.listed, self.read = store, [], []

    def __enter__(self) -> Reads:
        store = self.store
        lister, snap, getter = store.list, store.snapshot, store.get

        def listing(tenant, kind):
            out = lister(tenant, kind)
            if kind in KINDS:
                self.listed.append((kind, len(out)))
            return out

        def one(fn):
            def read(tenant, kind, key):
                if kind in KINDS:
                    self.read.append(kind)
                return fn(tenant, kind, key)
            return read

        store.list, store.snapshot, store.get = listing, one(snap), one(getter)
        return self

    def __exit__(self, *exc) -> None:
        del self.store.list, self.store.snapshot, self.store.get


@pytest.mark.parametrize("path,kind", [("devices", m.DEVICE), ("groups", m.GROUP),
                                       ("scenes", m.SCENE)])
def test_a_listing_reads_the_users_documents_only(big, path, kind):
    app, client, users = big
    user_id, index = users[HOMES // 2]
    headers = {"Authorization": f"Bearer {_token(client, user_id)}"}
    with Reads(app.store) as reads:
        r = client.get(f"/lightify/v4/{path}", headers=headers)
    assert r.status_code == 200
    shown = [d["id"] for d in r.json[path]]
    assert shown == index[kind] and shown          # the user's, in the API's order
    assert reads.listed == []                      # no kind read whole
    assert reads.read.count(kind) == len(shown)    # one read each
    assert reads.read.count(m.OWNED) == 1


@pytest.mark.parametrize("path,kind", [("devices", m.DEVICE), ("groups", m.GROUP),
                                       ("scenes", m.SCENE)])
def test_without_the_index_a_listing_answers_the_same(big, path, kind):
    """A state from before the index (an older mockcloud's SQLite file or Redis)."""
    app, client, users = big
    user_id, index = users[3]
    headers = {"Authorization": f"Bearer {_token(client, user_id)}"}
    indexed = client.get(f"/lightify/v4/{path}", headers=headers)
    app.store.delete("default", m.OWNED, user_id)
    try:
        with Reads(app.store) as reads:
            scanned = client.get(f"/lightify/v4/{path}", headers=headers)
    finally:
        app.store.put("default", m.OWNED, user_id, index)
    assert scanned.status_code == indexed.status_code == 200
    assert scanned.get_data() == indexed.get_data()
    assert [k for k, _ in reads.listed] == [kind]   # the whole kind, as before


def test_the_index_follows_the_world_file_order(big):
    """Each kind in ``order`` then id: the gateway first, then the devices as listed."""
    app, _client, users = big
    for user_id, index in users:
        for kind in (m.DEVICE, m.GROUP, m.SCENE):
            docs = [d for _, d in app.store.list("default", kind) if d["owner"] == user_id]
            assert index[kind] == [d["id"] for d in sorted(
                docs, key=lambda d: (d.get("order", 0), d["id"]))]


def _netatmo_user(app) -> dict:
    users = [u for _, u in app.store.list("default", "netatmo.user")]
    user = users[len(users) // 2]
    assert user["id"] != user["login"]        # Netatmo's ids are its own
    return user


def test_a_user_named_by_id_is_found_in_a_read_or_two(big):
    app, client, _ = big
    user = _netatmo_user(app)
    with Reads(app.store) as reads:
        r = _admin_token(client, user["id"])
    assert r.status_code in (200, 201), r.get_data()
    token = r.json["access_token"]
    assert app.store.get("default", "netatmo.token", token)["user_id"] == user["id"]
    assert reads.listed == []
    assert reads.read.count("netatmo.user") <= 2


def test_an_unknown_login_reads_no_user_list(big):
    app, client, _ = big
    with Reads(app.store) as reads:
        r = _admin_token(client, "nobody@example.com")
    assert r.status_code == 404
    assert reads.listed == []


def test_without_the_index_of_ids_a_user_is_still_found_by_id(big):
    """A state from before the index: every user is read, as before."""
    app, client, _ = big
    user = _netatmo_user(app)
    index = app.store.list("default", "netatmo.user_id")
    for key, _ in index:
        app.store.delete("default", "netatmo.user_id", key)
    try:
        with Reads(app.store) as reads:
            r = _admin_token(client, user["id"])
    finally:
        for key, doc in index:
            app.store.put("default", "netatmo.user_id", key, doc)
    assert r.status_code in (200, 201), r.get_data()
    assert [k for k, _ in reads.listed] == ["netatmo.user"]
