"""``mockcloud serve | world | contracts | record | drift | fuzz``: a thin shell over the
packages. The contract-testing toolkit's commands (``record``, ``drift``, ``fuzz``,
``world from-cassette``) live in ``emulator.toolkit``, each module with its own
``main(argv) -> int`` and argument parser."""

from __future__ import annotations

import argparse
import os
import sys

from .settings import Settings


def serve(args: argparse.Namespace) -> int:
    from . import server

    overrides = {k: getattr(args, k) for k in
                 ("host", "port", "state", "world", "seed", "workers", "threads", "pin_threads",
                  "tls", "cert", "key", "log_level", "admin_token", "world_cache",
                  "tenant_idle")}
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as exc:
        print(f"mockcloud: {exc}", file=sys.stderr)
        return 2
    if not settings.tenant_idle >= 0:  # (NaN too)
        print(f"mockcloud: --tenant-idle (MOCKCLOUD_TENANT_IDLE) must be 0 (never) or a "
              f"positive number of seconds, not {settings.tenant_idle}", file=sys.stderr)
        return 2
    return server.run(settings)


def world_cmd(args: argparse.Namespace) -> int:
    from .core import world as core_world

    if args.world_cmd == "generate":
        from .generate import generate

        text = generate(homes=args.homes, seed=args.seed)
        if args.output and args.output != "-":
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            sys.stdout.write(text)
        return 0
    if args.world_cmd == "check":
        from .app import VENDORS

        try:
            data = core_world.read_file(args.file)
            rows = core_world.build(data, {v.name: v for v in VENDORS}, 0)
        except core_world.WorldError as exc:
            print(f"invalid: {exc}", file=sys.stderr)
            return 1
        print(f"ok: {len(rows)} documents")
        return 0
    return 2


def contracts_cmd(args: argparse.Namespace, rest: list[str]) -> int:
    from contracts import verify

    return verify.main(rest)


# commands whose parser is their module's own: ``mockcloud <cmd> ...`` -> main(argv)
TOOLKIT = {
    ("record",): ("record", "record a cloud through a scrubbing reverse proxy "
                  "(vcrpy cassettes); record --check DIR"),
    ("drift",): ("drift", "replay cassettes against the emulator and report drift"),
    ("fuzz",): ("fuzz", "schemathesis against a vendor's served contract"),
    ("world", "from-cassette"): ("from_cassette", "build a world from recorded reads"),
}


def toolkit_cmd(module: str, rest: list[str]) -> int:
    from importlib import import_module

    return import_module(f"emulator.toolkit.{module}").main(rest)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mockcloud", description="Local stand-in for the Qivivo, "
                                "Netatmo Connect and OSRAM Lightify clouds.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="serve the emulator")
    s.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default 8080; 0 picks a free one)")
    s.add_argument("--state", help="memory (default), sqlite:///path.db or redis://host:port/db "
                   "(rediss://, redis+cluster://; see README)")
    s.add_argument("--world", help="world file every new tenant starts from")
    s.add_argument("--seed", type=int, help="seed for ids, generated data and chaos")
    s.add_argument("--world-cache", dest="world_cache", choices=("auto", "on", "off"),
                   help="keep the built world in <home>/worlds so the next start maps it "
                        "(default auto: world files of 1 MB or more)")
    s.add_argument("--workers", type=int,
                   help="server processes (>1 needs --state sqlite or redis)")
    s.add_argument("--threads", type=int,
                   help="Python threads per worker (default 2 x CPUs + 1)")
    s.add_argument("--pin-threads", dest="pin_threads", action=argparse.BooleanOptionalAction,
                   default=None, help="run each worker's Python threads on one CPU, as the "
                   "GIL runs one at a time (default on; --no-pin-threads: any CPU)")
    s.add_argument("--tls", action="store_true", default=None,
                   help="serve HTTPS (self-signed certificate unless --cert/--key)")
    s.add_argument("--cert", help="PEM certificate for --tls")
    s.add_argument("--key", help="PEM private key for --tls")
    s.add_argument("--admin-token", dest="admin_token",
                   help="token the control plane (/_mockcloud/) requires (env "
                        "MOCKCLOUD_ADMIN_TOKEN); needed off loopback")
    s.add_argument("--tenant-idle", dest="tenant_idle", type=float, metavar="SECONDS",
                   help="delete a tenant no request has named and no webhook delivery has "
                        "reached for this long (real time); a later request starts it "
                        "afresh (default 0: never)")
    s.add_argument("--log-level", dest="log_level", help="debug, info, warning (default)")
    s.set_defaults(func=serve)

    w = sub.add_parser("world", help="world files")
    wsub = w.add_subparsers(dest="world_cmd", required=True)
    g = wsub.add_parser("generate", help="generate a bigger world with Faker")
    g.add_argument("--homes", type=int, default=10)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("-o", "--output", default="-")
    c = wsub.add_parser("check", help="validate a world file")
    c.add_argument("file")
    wsub.add_parser("from-cassette", help=TOOLKIT[("world", "from-cassette")][1],
                    add_help=False)
    w.set_defaults(func=world_cmd)

    k = sub.add_parser("contracts", help="contract tools: contracts verify PATH...",
                       add_help=False)
    k.set_defaults(func=None)
    for words, (_module, text) in TOOLKIT.items():
        if len(words) == 1:
            sub.add_parser(words[0], help=text, add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["contracts"]:
        return contracts_cmd(argparse.Namespace(), argv[1:])
    for words, (module, _text) in TOOLKIT.items():
        if tuple(argv[:len(words)]) == words:
            return toolkit_cmd(module, argv[len(words):])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    os._exit(main())
