#!/usr/bin/env python3
"""A base image for docker/Dockerfile where no image registry is reachable, and the
wheels its ``wheels`` stage reads where the package index is not reachable from a build.

    python3 scripts/docker_base.py                      # prints the image: mockcloud-base:bookworm
    python3 scripts/docker_base.py --wheelhouse DIR [--image IMAGE]

The image: ``mockcloud-base:bookworm`` when Docker has it; else imported from the cached
tarball (``/var/cache/mockcloud/`` as root, else ``~/.cache/mockcloud/``); else built:
Debian's ``debootstrap --variant=minbase`` of bookworm with python3, python3-venv and
ca-certificates from a Debian mirror (``MOCKCLOUD_DEBIAN_MIRROR``, default
deb.debian.org; needs root and Debian's ``debootstrap``; ~1.5 min, ~130 MB), its docs
and package lists removed, tarred into the cache and ``docker import``-ed. The cache
survives ``docker system prune``; a lock keeps two runs from building it twice.

The wheelhouse: the wheels of mockcloud's dependencies (pyproject.toml) and of its
build backend (setuptools) for the image's Python and platform (asked of the image,
``--network none``), downloaded by this Python's pip on the host (through its
configuration and cache): ``pip download --only-binary=:all:`` with the image's Python
version, ABI and manylinux tags. Then ``docker build --build-arg PIP_NO_INDEX=1`` needs
no network at all.

The Docker client: ``docker`` on PATH when it can build (BuildKit through buildx, or a
client that still has the built-in builder); else Debian's ``/usr/bin/docker`` (docker.io
20.10, ``DOCKER_BUILDKIT=1``), whichever comes first.

Standard library only.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "mockcloud-base:bookworm"
SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
MIRROR = os.environ.get("MOCKCLOUD_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBOOTSTRAP_TIMEOUT = 900
# what a base image does not need at run time (apt's lists come back with `apt-get update`)
PRUNE = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
         "usr/share/info", "usr/share/locale")
DEBIAN_DOCKER = "/usr/bin/docker"


class BaseError(RuntimeError):
    """Why there is no base image (one line, or the tail of a command's output)."""


def cache_dir() -> Path:
    if os.environ.get("MOCKCLOUD_DOCKER_CACHE"):
        return Path(os.environ["MOCKCLOUD_DOCKER_CACHE"])
    if os.geteuid() == 0:
        return Path("/var/cache/mockcloud")
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mockcloud"


def run(cmd: Sequence[str], what: str, *, timeout: float, env: dict[str, str] | None = None,
        stdin: int | None = subprocess.DEVNULL) -> str:
    """The command's output; a BaseError with its tail when it fails or hangs."""
    try:
        done = subprocess.run(list(cmd), stdin=stdin, capture_output=True, text=True,
                              errors="replace", timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BaseError(f"{what}: no end within {timeout:.0f} s: {' '.join(cmd)}") from exc
    except OSError as exc:
        raise BaseError(f"{what}: cannot run {cmd[0]}: {exc}") from exc
    if done.returncode != 0:
        out = (done.stdout + done.stderr).strip()
        raise BaseError(f"{what} failed (exit status {done.returncode}): {' '.join(cmd)}\n"
                        + out[-3000:])
    return done.stdout


def _can_build(exe: str) -> bool:
    """buildx is there, or the client is old enough to build by itself (< 23)."""
    probe = subprocess.run([exe, "buildx", "version"], capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL, check=False)
    if probe.returncode == 0:
        return True
    probe = subprocess.run([exe, "version", "--format", "{{.Client.Version}}"],
                           capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL, check=False)
    major = probe.stdout.strip().split(".")[0]
    return major.isdigit() and int(major) < 23


def docker_client() -> tuple[str, dict[str, str]]:
    """(the docker executable, the environment to run it in); BaseError when none fits."""
    candidates = [p for p in (shutil.which("docker"), DEBIAN_DOCKER)
                  if p and os.access(p, os.X_OK)]
    for exe in dict.fromkeys(candidates):
        if _can_build(exe):
            return exe, {**os.environ, "DOCKER_BUILDKIT": "1"}
    if not candidates:
        raise BaseError("no docker client: install Debian's docker.io "
                        "(scripts/ensure_services.py docker, as root)")
    raise BaseError(f"no docker client that can build ({', '.join(candidates)}: no buildx "
                    "and no built-in builder); install Debian's docker.io")


def has_image(docker: str, env: dict[str, str], image: str) -> bool:
    return subprocess.run([docker, "image", "inspect", image], capture_output=True,
                          env=env, timeout=60, stdin=subprocess.DEVNULL,
                          check=False).returncode == 0


@contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def debootstrap(tarball: Path, log=print) -> None:
    """A minimal Debian with Python, as a tarball of its root."""
    exe = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not os.access(exe, os.X_OK):
        raise BaseError("no debootstrap: install Debian's debootstrap "
                        "(scripts/ensure_services.py docker, as root)")
    if os.geteuid() != 0:
        raise BaseError("debootstrap needs root")
    with tempfile.TemporaryDirectory(prefix="mockcloud-base-", dir=tarball.parent) as tmp:
        rootfs = Path(tmp) / "root"
        log(f"docker_base: debootstrap {SUITE} from {MIRROR} (about 1.5 min) ...")
        run([exe, "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
             str(rootfs), MIRROR], "debootstrap", timeout=DEBOOTSTRAP_TIMEOUT)
        for sub in PRUNE:
            shutil.rmtree(rootfs / sub, ignore_errors=True)
        (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".part")
        run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."],
            "tar", timeout=600)
        partial.replace(tarball)


def ensure_base(image: str = IMAGE, log=print) -> str:
    """The local base image's name, made when missing (see the module's docstring)."""
    docker, env = docker_client()
    if has_image(docker, env, image):
        return image
    cache = cache_dir()
    tarball = cache / f"debian-{SUITE}-python.tar"
    with locked(cache / "base.lock"):
        if has_image(docker, env, image):
            return image
        began = time.monotonic()
        if not tarball.is_file():
            debootstrap(tarball, log)
        log(f"docker_base: docker import {tarball} {image} ...")
        with open(tarball, "rb") as f:
            run([docker, "import", "-c", 'CMD ["/bin/bash"]', "-", image],
                "docker import", timeout=600, env=env, stdin=f.fileno())
        log(f"docker_base: {image} ready ({time.monotonic() - began:.0f} s)")
    return image


# the image's Python, platform and PEP 508 marker environment
_PROBE = ("import json, os, platform, sys; i = sys.implementation; "
          "v = '%d.%d.%d' % sys.version_info[:3]; print(json.dumps({'version': v, "
          "'machine': platform.machine(), 'libc': platform.libc_ver(), 'markers': {"
          "'implementation_name': i.name, 'implementation_version': '%d.%d.%d' % "
          "i.version[:3], 'os_name': os.name, 'platform_machine': platform.machine(), "
          "'platform_release': platform.release(), 'platform_system': platform.system(), "
          "'platform_version': platform.version(), 'python_full_version': v, "
          "'platform_python_implementation': platform.python_implementation(), "
          "'python_version': v.rsplit('.', 1)[0], 'sys_platform': sys.platform}}))")


def platform_of(image: str) -> dict:
    docker, env = docker_client()
    out = run([docker, "run", "--rm", "--network", "none", image, "python3", "-c", _PROBE],
              f"asking {image} for its Python", timeout=120, env=env)
    return json.loads(out.strip().splitlines()[-1])


def pip_target(info: dict) -> list[str]:
    """pip download's options for wheels that install on that Python and platform."""
    libc, libc_version = info["libc"]
    if libc != "glibc":
        raise BaseError(f"the base image's C library is {libc or 'unknown'}, not glibc: "
                        "build without PIP_NO_INDEX (the wheels stage reads the index)")
    arch = info["machine"]
    top = int(libc_version.split(".")[1])
    platforms = [f"manylinux_2_{minor}_{arch}" for minor in range(top, 4, -1)]
    platforms += [f"manylinux{alias}_{arch}" for alias in ("2014", "2010", "1")]
    major, minor = info["version"].split(".")[:2]
    opts = ["--only-binary=:all:", "--python-version", info["version"],
            "--implementation", "cp", "--abi", f"cp{major}{minor}", "--abi", "abi3",
            "--abi", "none"]
    for p in platforms:
        opts += ["--platform", p]
    return opts


def _packaging() -> tuple[type, Callable[[str], str]]:
    try:
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
    except ImportError:  # pip's copy
        from pip._vendor.packaging.requirements import Requirement
        from pip._vendor.packaging.utils import canonicalize_name
    return Requirement, canonicalize_name


def missing(folder: Path, roots: Sequence[str], markers: dict[str, str]) -> list[str]:
    """What the wheels in ``folder`` require on the image (its markers, not this Python's:
    ``pip download --python-version`` evaluates markers here) and do not hold."""
    requirement, canonical = _packaging()
    requires: dict[str, list[str]] = {}
    for wheel in folder.glob("*.whl"):
        with zipfile.ZipFile(wheel) as z:
            meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            text = z.read(meta).decode("utf-8", "replace").split("\n\n", 1)[0]
        name = canonical(wheel.name.split("-")[0])
        requires[name] = [line.split(":", 1)[1].strip() for line in text.splitlines()
                          if line.startswith("Requires-Dist:")]
    wanted: dict[str, set[str]] = {}      # name -> extras asked for
    todo = [(r, "") for r in roots]
    absent: list[str] = []
    while todo:
        line, extra = todo.pop()
        req = requirement(line)
        if req.marker and not req.marker.evaluate({**markers, "extra": extra}):
            continue
        name = canonical(req.name)
        new = {""} | set(req.extras)
        if name in wanted and new <= wanted[name]:
            continue
        wanted.setdefault(name, set()).update(new)
        if name not in requires:
            req.marker = None
            absent.append(str(req))
            continue
        todo += [(r, e) for r in requires[name] for e in new]
    return absent


def fill_wheelhouse(folder: Path, image: str, log=print) -> list[str]:
    """mockcloud's dependencies and build backend as wheels for the image; their names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    roots = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    info = platform_of(image)
    folder.mkdir(parents=True, exist_ok=True)
    log(f"docker_base: wheels for Python {info['version']} on {info['machine']} "
        f"({info['libc'][0]} {info['libc'][1]}) into {folder} ...")
    requirements = roots
    for _ in range(10):
        run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
             "--quiet", "--dest", str(folder), *pip_target(info), *requirements],
            "pip download", timeout=900)
        requirements = missing(folder, roots, info["markers"])
        if not requirements:
            return sorted(p.name for p in folder.glob("*.whl"))
        log(f"docker_base:   also, for the image's markers: {', '.join(requirements)}")
    raise BaseError(f"the wheelhouse still misses {', '.join(requirements)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default=None,
                        help=f"the base image (default: {IMAGE}, made when missing)")
    parser.add_argument("--wheelhouse", type=Path, default=None,
                        help="also fill this folder with the wheels for the image")
    args = parser.parse_args(argv)
    try:
        image = args.image or ensure_base(log=lambda m: print(m, file=sys.stderr))
        if args.wheelhouse:
            names = fill_wheelhouse(args.wheelhouse, image,
                                    log=lambda m: print(m, file=sys.stderr))
            print(f"docker_base: {len(names)} wheels in {args.wheelhouse}", file=sys.stderr)
    except BaseError as exc:
        print(f"docker_base: {exc}", file=sys.stderr)
        return 1
    print(image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
