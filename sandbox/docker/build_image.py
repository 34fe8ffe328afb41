"""Build the Docker backend's test image without an image registry.

Machines that run CI have a Debian mirror configured for apt but usually cannot pull from an image
registry. This script builds a minimal root filesystem with ``debootstrap --variant=minbase`` plus
``python3`` and ``python3-numpy`` from THE MIRROR APT IS ALREADY CONFIGURED TO USE (read from ``/etc/apt/sources.list`` and
``/etc/apt/sources.list.d/*.list|*.sources``; no host name is hard-coded here), and ``docker import``s
it under a fixed tag. Users with registry access should build ``sandbox/docker/Dockerfile`` instead.

    python sandbox/docker/build_image.py [--tag g2rl-verl-sandbox:debootstrap] [--force]

Needs root (debootstrap), a running dockerd and the ``debootstrap`` package. Idempotent: an existing
image with the tag is kept unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

DEFAULT_TAG = "g2rl-verl-sandbox:debootstrap"
# python3 plus the one heavy library candidate programs commonly import (Debian's build, from the mirror)
DEFAULT_PACKAGES = "python3,python3-numpy"
APT_SOURCES_LIST = "/etc/apt/sources.list"
APT_SOURCES_DIR = "/etc/apt/sources.list.d"


@dataclass(frozen=True)
class AptSource:
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str | None
    origin: str  # file the entry came from, for error messages


def _parse_one_line_sources(path: str) -> list[AptSource]:
    """`deb [opts] URI SUITE COMPONENT...` lines (the classic format)."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line.startswith("deb "):
                continue
            words = line.split()[1:]
            signed_by = None
            if words and words[0].startswith("["):
                opts = []
                while words:
                    word = words.pop(0)
                    opts.append(word.strip("[]"))
                    if word.endswith("]"):
                        break
                for opt in opts:
                    if opt.startswith("signed-by="):
                        signed_by = opt.split("=", 1)[1]
            if len(words) >= 2:
                entries.append(AptSource(words[0], (words[1],), tuple(words[2:]), signed_by, path))
    return entries


def _parse_deb822_sources(path: str) -> list[AptSource]:
    """deb822 stanzas (`Types:`, `URIs:`, `Suites:`, ...), separated by blank lines."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    entries = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for raw in stanza.splitlines():
            if raw.startswith("#") or not raw.strip():
                continue
            if raw[0] in " \t" and key:  # continuation line
                fields[key] += " " + raw.strip()
                continue
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            entries.append(AptSource(uri, tuple(fields.get("suites", "").split()),
                                     tuple(fields.get("components", "").split()),
                                     fields.get("signed-by") or None, path))
    return entries


def read_apt_sources() -> list[AptSource]:
    entries: list[AptSource] = []
    if os.path.exists(APT_SOURCES_LIST):
        entries += _parse_one_line_sources(APT_SOURCES_LIST)
    for path in sorted(glob.glob(os.path.join(APT_SOURCES_DIR, "*.list"))):
        entries += _parse_one_line_sources(path)
    for path in sorted(glob.glob(os.path.join(APT_SOURCES_DIR, "*.sources"))):
        entries += _parse_deb822_sources(path)
    return entries


def host_codename() -> str:
    with open("/etc/os-release", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    raise SystemExit("cannot read VERSION_CODENAME from /etc/os-release; pass --suite")


def pick_mirror(entries: list[AptSource], suite: str) -> AptSource:
    """The first configured entry that serves `suite` itself with `main` (not -updates/-security)."""
    for entry in entries:
        if suite in entry.suites and "main" in entry.components and entry.uri.startswith(("http", "file:")):
            return entry
    configured = "\n  ".join(f"{e.origin}: {e.uri} {' '.join(e.suites)}" for e in entries) or "(none)"
    raise SystemExit(f"no apt source serves suite {suite!r} with component 'main'. Configured:\n  {configured}\n"
                     f"Fix the apt configuration or pass --mirror URI.")


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def build(tag: str, suite: str, mirror: AptSource, packages: str, keep_rootfs: bool) -> None:
    workdir = tempfile.mkdtemp(prefix="g2rl-sandbox-rootfs-")
    rootfs = os.path.join(workdir, "rootfs")
    try:
        cmd = ["debootstrap", "--variant=minbase", f"--include={packages}", "--components=main"]
        if mirror.signed_by and os.path.exists(mirror.signed_by):
            cmd.append(f"--keyring={mirror.signed_by}")
        cmd += [suite, rootfs, mirror.uri]
        print(f"[build_image] {' '.join(cmd)}  (mirror from {mirror.origin})", flush=True)
        t0 = time.monotonic()
        subprocess.run(cmd, check=True)
        print(f"[build_image] debootstrap done in {time.monotonic() - t0:.0f} s", flush=True)
        # Shrink: the package cache and lists are useless in a read-only sandbox image.
        for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "usr/share/doc/*",
                        "usr/share/man/*", "usr/share/locale/*"):
            for path in glob.glob(os.path.join(rootfs, pattern)):
                shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)
        tar = subprocess.Popen(["tar", "-C", rootfs, "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            ["docker", "import",
             "--change", "ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin",
             "--change", "WORKDIR /tmp",
             "--change", 'CMD ["/bin/sleep", "infinity"]',
             "-", tag],
            stdin=tar.stdout, capture_output=True, text=True)
        tar.stdout.close()
        if tar.wait() != 0 or imp.returncode != 0:
            raise SystemExit(f"docker import failed: {imp.stderr.strip()}")
        print(f"[build_image] imported {tag} ({imp.stdout.strip()}) in {time.monotonic() - t0:.0f} s total",
              flush=True)
    finally:
        if keep_rootfs:
            print(f"[build_image] rootfs kept at {rootfs}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", default=DEFAULT_TAG)
    parser.add_argument("--suite", default=None, help="Debian suite (default: the host's codename)")
    parser.add_argument("--mirror", default=None, help="override the mirror read from the apt configuration")
    parser.add_argument("--packages", default=DEFAULT_PACKAGES, help="comma-separated --include list")
    parser.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    parser.add_argument("--keep-rootfs", action="store_true")
    args = parser.parse_args(argv)

    for tool in ("debootstrap", "docker", "tar"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool!r} not found on PATH (apt-get install debootstrap docker.io)")
    if image_exists(args.tag) and not args.force:
        print(f"[build_image] {args.tag} already present; use --force to rebuild")
        return 0
    suite = args.suite or host_codename()
    if args.mirror:
        mirror = AptSource(args.mirror, (suite,), ("main",), None, "--mirror")
    else:
        mirror = pick_mirror(read_apt_sources(), suite)
    build(args.tag, suite, mirror, args.packages, args.keep_rootfs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
