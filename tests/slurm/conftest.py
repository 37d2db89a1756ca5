"""Fixtures for the Lua-side tests (servers live in lua_servers.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .lua_servers import Handler, RawServer, ScriptedRouter


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short temp dir: unix socket paths must stay under ~107 bytes (pytest's tmp_path may not)."""
    path = Path(tempfile.mkdtemp(prefix="opz", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def router_factory() -> Iterator[Callable[..., ScriptedRouter]]:
    made: list[ScriptedRouter] = []

    def make(endpoint: str, handler: Handler, sockopts: dict[int, int] | None = None) -> ScriptedRouter:
        router = ScriptedRouter(endpoint, handler, sockopts)
        made.append(router)
        return router

    yield make
    for router in made:
        router.close()


@pytest.fixture
def raw_factory() -> Iterator[Callable[..., RawServer]]:
    made: list[RawServer] = []

    def make(family: int, address: str | tuple[str, int], greeting: bytes, close_at_once: bool) -> RawServer:
        server = RawServer(family, address, greeting, close_at_once)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()
