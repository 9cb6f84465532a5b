"""The server's world, built once: a cache of built worlds (``store.Base`` files).

Building a world (parsing the file, every vendor's validation, serialising the
documents) takes seconds for 10,000 homes and leaves the process that did it holding
memory it no longer needs (freed objects pin the allocator's arenas). So ``serve``
builds it in a short-lived child (``server._check_app``), which saves the built
documents here, and each worker maps the saved file (``Base.load``: the documents stay
in the page cache, shared by the workers; only the index is read).

A cached base is named by everything its documents follow from (``key``): the world
file's bytes, the seed, the vendors served, and the code that builds them (the
``emulator`` package's sources and the contracts' schemas, the Python version). So an
edited world, another seed or another version of mockcloud builds again; a damaged
file is built again too. Files live in ``<home>/worlds/`` (``--home``, env
``MOCKCLOUD_HOME``); the newest ``KEEP`` are kept.

``Settings.world_cache`` (env ``MOCKCLOUD_WORLD_CACHE``): ``auto`` (the default:
world files of ``AUTO_BYTES`` or more; small ones build in milliseconds), ``on``
(every world file) or ``off``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import logging
import multiprocessing
import os
import pickle
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import world
from .store import Base, BaseFile, Part
from .vendor import Vendor

log = logging.getLogger("mockcloud")
AUTO_BYTES = 1 << 20
KEEP = 4
SUFFIX = ".base"
MODES = ("auto", "on", "off")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the code a world's documents follow from: every source file of the
    ``emulator`` package and the contracts' schemas (read once per process)."""
    from contracts.files import contracts_dir

    h = hashlib.blake2b(digest_size=16)
    h.update(f"{sys.version_info[0]}.{sys.version_info[1]}".encode())
    roots = [(Path(__file__).resolve().parents[1], "*.py"),
             (Path(contracts_dir()) / "schemas", "*.json")]
    for root, pattern in roots:
        for path in sorted(root.rglob(pattern)):
            rel = path.relative_to(root).as_posix().encode()
            h.update(b"%d:%s" % (len(rel), rel))
            data = path.read_bytes()
            h.update(b"%d:" % len(data))
            h.update(data)
    return h.hexdigest()


def key(path: str | Path, seed: int, vendors: dict[str, Vendor]) -> str:
    """The name of a world file's built documents (see the module's docstring): a
    SHA-1, which the CPU computes where it can (a 60 MB world: 0.13 s by BLAKE2, 0.04 s
    by SHA-NI), a name, not a secret."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(f"{code_version()}\0{seed}\0{','.join(sorted(vendors))}\0".encode())
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _wanted(mode: str, path: Path) -> bool:
    if mode not in MODES:
        raise ValueError(f"world_cache must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "off":
        return False
    try:
        return mode == "on" or path.stat().st_size >= AUTO_BYTES
    except OSError:
        return False            # the build says why the file cannot be read


def build(path: str | Path, vendors: dict[str, Vendor], seed: int,
          jobs: int | None = None, into: str | Path | None = None) -> Base:
    """The world file's documents, checked and serialised; saved to ``into`` when
    given (as ``Base.save`` saves one, each part written there as soon as it is made,
    by the process that made it: ``BaseFile``), and the base mapped from it.

    A big world (``AUTO_BYTES`` or more) is built by ``jobs`` processes (default: one
    per CPU this process may use, at most one per step of ``world.steps``): this one
    and children forked after the file is read (a JSON world split into its sections,
    ``world.split``: each is parsed by the process that checks it, so the parse is
    shared out too). Each takes the next step not yet taken, checks it and
    serialises its documents (``Base.part``); this process then
    joins the parts in the world's order (``Base.joined``), so the base, its digest
    and its bytes are those of a build in one process, and a bad world raises the
    error of its first bad step, naming the entry, as one process would.

    The cyclic garbage collector is off meanwhile: reading and checking a big world
    makes millions of objects that live until the end, none in a cycle, and each
    collection walked them all again (10,000 homes: 12.1 -> 7.3 s of CPU; reading the
    file alone 2.2 -> 0.7 s)."""
    with _no_collection():
        if jobs is None:
            jobs = _cpus() if _size(path) >= AUTO_BYTES else 1
        data = None
        if jobs > 1 and _can_fork():    # each process parses what it checks
            data = world.split(world.read_bytes(path))
        if data is None:
            data = world.read_file(path)
        try:
            base = _built(data, vendors, seed, jobs, into)
        except world.Unsplit:           # read whole: the same world, or its error
            data = world.read_file(path)
            base = _built(data, vendors, seed, jobs, into)
        # the parsed file goes while the collector is still off: the first collection
        # after the build would otherwise walk all of it, never collected yet (10,000
        # homes: ~0.4 s, and ~0.3 s to free it); or stays to the exit, out of the
        # collector's walks (gc.freeze: the process ends soon)
        if _LEFT_TO_EXIT is not None:
            _LEFT_TO_EXIT.append(data)
            gc.freeze()
        del data
    return base


def _built(data: dict[str, Any], vendors: dict[str, Vendor], seed: int, jobs: int,
           into: str | Path | None) -> Base:
    try:
        with world.steps(data, vendors, seed) as steps:
            jobs = min(jobs, len(steps))
            if into is not None:
                with BaseFile(into) as out:
                    sink = _FileSink(out, multiprocessing.get_context("fork").Value(
                        "q", BaseFile.START) if jobs > 1 and _can_fork() else None)
                    for _ in _made(steps, jobs, sink):
                        pass
                    return out.finish(sink.end() - BaseFile.START)
            if jobs < 2 or not _can_fork():
                return Base.joined(Base.part(step()) for step in steps)
            return Base.joined(_made(steps, jobs, _SpoolSink()))
    except world.WorldError:
        world.check_split(data)         # a split text may not be that world at all
        raise


# the parsed world files this process leaves to its exit (``leave_to_exit``)
_LEFT_TO_EXIT: list[Any] | None = None


def leave_to_exit() -> None:
    """This process ends right after building its world and exits without freeing
    objects one by one (``os._exit``, as a forked ``multiprocessing`` child does): keep
    each parsed world file to the end, out of the collector's walks, rather than free
    it when built (10,000 homes: ~0.3 s of freeing millions of objects, on the way to
    the first start)."""
    global _LEFT_TO_EXIT
    _LEFT_TO_EXIT = []


def _size(path: str | Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


def _can_fork() -> bool:
    # a daemonic process (a pool's worker) may not start processes of its own
    return "fork" in multiprocessing.get_all_start_methods() \
        and not multiprocessing.current_process().daemon


Step = Callable[[], list[world.DocRow]]
Outcome = Any     # a part (or what a sink makes of it), or the error that stopped it


def _taken(steps: list[Step], turn: Any) -> Iterator[tuple[int, Outcome]]:
    """The steps this process takes (the next one no process took yet) and their
    outcomes: a part, or the error that stopped it (no step is taken after one)."""
    while True:
        with turn.get_lock():
            i = turn.value
            if i >= len(steps):
                return
            turn.value = i + 1
        try:
            out: Outcome = Base.part(steps[i]())
        except (world.WorldError, world.Unsplit) as exc:
            out = exc
        except Exception:               # a bug: its traceback, from whichever process
            out = RuntimeError(f"building the world failed:\n{traceback.format_exc()}")
        if isinstance(out, Exception):
            with turn.get_lock():       # the steps after it cannot matter
                turn.value = len(steps)
        yield i, out


def die_with_parent(parent: int) -> None:
    """In a process forked by ``parent``: be killed when that process ends (Linux's
    ``PR_SET_PDEATHSIG``), so that no world is built on for a server, or a build, that
    is gone; elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)      # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent:                          # it ended before that
        os._exit(1)


class _SpoolSink:
    """Parts to be joined in memory (``Base.joined``). A child's part comes back
    through a file the parent opened for it (its spool), not the pipe: tens of MB
    through a pipe's 64 KB take a thousand turns of both processes, each a wait on a
    busy machine, and a child whose message the pipe cannot hold waits, taking no
    other step, until the parent reads it (once done with its own steps)."""

    def channel(self, stack: contextlib.ExitStack) -> Any:
        return stack.enter_context(tempfile.TemporaryFile()).fileno()

    def mine(self, i: int, part: Part) -> Any:
        return part

    def put(self, i: int, part: Part, spool: Any, state: list[int]) -> Any:
        return _spooled(part, spool, state)

    def got(self, i: int, sent: Any, spool: Any) -> Outcome:
        return _unspooled(sent, spool)


def _spooled(value: Any, spool: int, state: list[int]) -> tuple[int, int]:
    """``value`` pickled at the end of ``spool`` (``state``: where that is); its place."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    at = state[0] if state else 0
    BaseFile.write_fd(spool, at, data)
    state[:] = [at + len(data)]
    return at, len(data)


def _unspooled(place: tuple[int, int], spool: int) -> Any:
    at, size = place
    data = os.pread(spool, size, at)
    if len(data) != size:
        return RuntimeError("building the world failed: a part came back cut short")
    return pickle.loads(data)


class _FileSink(_SpoolSink):
    """Parts written where they end up (``BaseFile``), each by the process that made
    it, at the next free place of the file (``end``: shared by the processes when
    there are several); only a part's digest and index come back to this process,
    through the child's spool."""

    def __init__(self, out: BaseFile, shared: Any = None) -> None:
        self.out, self.shared, self._end = out, shared, BaseFile.START

    def end(self) -> int:
        return self.shared.value if self.shared is not None else self._end

    def _write(self, part: Part) -> int:
        if self.shared is None:
            at, self._end = self._end, self._end + len(part.buf)
        else:
            with self.shared.get_lock():
                at = self.shared.value
                self.shared.value = at + len(part.buf)
        self.out.write(at, part.buf)
        return at

    def mine(self, i: int, part: Part) -> bool:
        self.out.placed(i, self._write(part), part.digest, part.docs)
        return True

    def put(self, i: int, part: Part, spool: Any, state: list[int]) -> Any:
        # the index through the child's spool (see _SpoolSink), its place by the pipe
        return self._write(part), _spooled((part.digest, part.docs), spool, state)

    def got(self, i: int, sent: Any, spool: Any) -> Outcome:
        at, place = sent
        index = _unspooled(place, spool)
        if isinstance(index, Exception):
            return index
        self.out.placed(i, at, *index)
        return True


def _helper(steps: list[Step], turn: Any, conn: Any, sink: _SpoolSink, channel: Any,
            parent: int) -> None:
    """A forked child's share of the steps: each part given to the sink (``put``) and
    what it says of it sent, or the error that stopped it."""
    die_with_parent(parent)
    state: list[int] = []
    try:
        for i, out in _taken(steps, turn):
            conn.send((i, out if isinstance(out, Exception)
                       else sink.put(i, out, channel, state)))
    finally:
        conn.close()


def _settled(outcomes: dict[int, Any]) -> bool:
    """Whether the error to raise is known: a step failed and every one before it is
    done (what the other processes do then cannot change it)."""
    failed = [i for i, out in outcomes.items() if isinstance(out, Exception)]
    return bool(failed) and all(i in outcomes for i in range(min(failed)))


def _made(steps: list[Step], jobs: int, sink: _SpoolSink) -> Iterator[Any]:
    """What the sink makes of each step's part (``mine``, ``got``), in order: made by
    this process alone, or with jobs - 1 forked children; the error of the first step
    that failed, once every step before it is known."""
    if jobs < 2 or not _can_fork():
        for i, step in enumerate(steps):
            yield sink.mine(i, Base.part(step()))
        return
    ctx = multiprocessing.get_context("fork")
    turn = ctx.Value("i", 0)
    outcomes: dict[int, Any] = {}
    children = []
    with contextlib.ExitStack() as stack:
        try:
            channels = [sink.channel(stack) for _ in range(jobs - 1)]
        except OSError:         # nowhere to write them: this process builds it all
            for i, step in enumerate(steps):
                yield sink.mine(i, Base.part(step()))
            return
        for channel in channels:
            mine, theirs = ctx.Pipe(duplex=False)
            child = ctx.Process(target=_helper, daemon=True,
                                args=(steps, turn, theirs, sink, channel, os.getpid()))
            child.start()
            theirs.close()
            children.append((child, mine, channel))
        try:
            for i, out in _taken(steps, turn):
                outcomes[i] = out if isinstance(out, Exception) else sink.mine(i, out)
            for _child, conn, channel in children:
                with contextlib.suppress(EOFError):     # it took no more, or it died
                    while not _settled(outcomes):
                        i, sent = conn.recv()
                        outcomes[i] = sent if isinstance(sent, Exception) \
                            else sink.got(i, sent, channel)
                conn.close()
        finally:
            for child, _, _ in children:
                if _settled(outcomes) and child.is_alive():
                    child.terminate()           # its work cannot matter any more
                child.join()
    for i in range(len(steps)):
        out = outcomes.get(i)
        if out is None:
            raise RuntimeError("building the world failed: a process building it died "
                               f"(step {i + 1} of {len(steps)} never came back)")
        if isinstance(out, Exception):
            raise out
        yield out


@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# how this process gets its world from a check made elsewhere (``checked_elsewhere``)
_CHECKED: Callable[[], str | None] | None = None


def checked_elsewhere(wait: Callable[[], str | None]) -> None:
    """This process's world is checked and built by another process (``serve``'s
    check, while the server starts): ``base_for`` calls ``wait``, which returns once
    that check has passed, with the file the built base was saved to (or None: the
    world is then built here, as without it)."""
    global _CHECKED
    _CHECKED = wait


def base_for(settings: Any, vendors: dict[str, Vendor]) -> Base:
    """The world ``settings.world`` as a base: the one the check made elsewhere saved
    (``checked_elsewhere``), else mapped from the cache when it holds it, else built
    (and saved there when the settings cache it). A world that does not build raises
    ``WorldError`` (nothing is saved)."""
    built = _CHECKED() if _CHECKED is not None else None
    if built:
        try:
            return Base.load(built)
        except (OSError, ValueError) as exc:
            log.warning("mockcloud: building the world again: %s", exc)
    path = Path(settings.world)
    if not _wanted(getattr(settings, "world_cache", "auto"), path):
        return build(path, vendors, settings.seed)
    folder = Path(settings.home).expanduser() / "worlds"
    try:
        name = key(path, settings.seed, vendors)
    except OSError:
        return build(path, vendors, settings.seed)
    cached = folder / f"{name}{SUFFIX}"
    try:
        return Base.load(cached)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("mockcloud: building the world again: %s", exc)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        base = build(path, vendors, settings.seed, into=cached)
    except OSError as exc:         # (a bad world is a WorldError: raised as it is)
        log.warning("mockcloud: cannot cache the built world in %s: %s", folder, exc)
        return build(path, vendors, settings.seed)
    with contextlib.suppress(OSError):
        _prune(folder, keep=cached)
    return base


def _prune(folder: Path, keep: Path) -> None:
    """Only the newest KEEP cached worlds stay (the one just written among them)."""
    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    files = sorted(folder.glob(f"*{SUFFIX}"), key=mtime, reverse=True)
    for old in [f for f in files if f != keep][KEEP - 1:]:
        old.unlink(missing_ok=True)
