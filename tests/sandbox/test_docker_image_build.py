"""sandbox/docker/build_image.py reads the Debian mirror from the apt configuration (never a fixed host)."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "sandbox", "docker", "build_image.py")


@pytest.fixture(scope="module")
def build_image():
    spec = importlib.util.spec_from_file_location("sandbox_build_image", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_deb822_sources_are_parsed_and_disabled_stanzas_skipped(build_image, tmp_path):
    f = tmp_path / "debian.sources"
    f.write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main contrib\nSigned-By: /usr/share/keyrings/k.gpg\n\n"
        "Types: deb\nURIs: http://disabled.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n\n"
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main\n")
    entries = build_image._parse_deb822_sources(str(f))
    assert [(e.uri, e.suites, e.signed_by) for e in entries] == [
        ("http://mirror.example/debian", ("bookworm", "bookworm-updates"), "/usr/share/keyrings/k.gpg")]


def test_one_line_sources_with_options(build_image, tmp_path):
    f = tmp_path / "sources.list"
    f.write_text("# deb http://commented.example/debian bookworm main\n"
                 "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n"
                 "deb-src http://src.example/debian bookworm main\n"
                 "deb http://sec.example/debian-security bookworm-security main\n")
    entries = build_image._parse_one_line_sources(str(f))
    assert [(e.uri, e.suites, e.components, e.signed_by) for e in entries] == [
        ("http://one.example/debian", ("bookworm",), ("main",), "/k.gpg"),
        ("http://sec.example/debian-security", ("bookworm-security",), ("main",), None)]


def test_pick_mirror_takes_the_entry_serving_the_suite_itself(build_image):
    src = build_image.AptSource
    entries = [src("http://sec.example/debian-security", ("bookworm-security",), ("main",), None, "a"),
               src("http://one.example/debian", ("bookworm", "bookworm-updates"), ("main",), None, "b")]
    assert build_image.pick_mirror(entries, "bookworm").uri == "http://one.example/debian"
    with pytest.raises(SystemExit, match="no apt source serves suite 'trixie'"):
        build_image.pick_mirror(entries, "trixie")
