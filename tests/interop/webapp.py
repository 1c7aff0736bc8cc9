"""Run Forgea's own web-app code (the corpus) with the real Prisma 7 client, from Python tests.

The Node workspace (``tests/interop/node``: package.json + package-lock.json, exact versions) is
installed with ``npm ci`` once per lock file, under a file lock, into
``tests/interop/node/node_modules``. The web app's files are never copied into the repository:
``build_layout`` lays them out at test time in a tmp directory shaped like the monorepo

    <root>/node_modules/            symlinks into the workspace + @forgea/{schema,audit}
    <root>/packages/schema/         package.json, prisma/ (schema, seed, migrations), src/  (corpus)
                                    prisma.config.ts                                          (ours)
    <root>/packages/config/src/env.ts                                                         (corpus)
    <root>/packages/audit/          the `@forgea/audit` shim                                  (ours)
    <root>/apps/forgea-labs/app/api/webhooks/github/route.ts                                  (corpus)
    <root>/apps/forgea-labs/{tsconfig.json,lib/db.ts,scripts/*.ts}                            (ours)

and generates the client from the corpus's schema.prisma (``prisma generate`` with
``PRISMA_SCHEMA_ENGINE_BINARY=/bin/true``: generation needs no engine, and the CLI would otherwise
try to download one).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.real_forgea import libpq_url

INTEROP_DIR = Path(__file__).resolve().parent
WORKSPACE = INTEROP_DIR / "node"
SHIMS = INTEROP_DIR / "shims"
SCRIPTS = INTEROP_DIR / "scripts"
NODE_MODULES = WORKSPACE / "node_modules"
INSTALL_STAMP = NODE_MODULES / ".forgea-interop-install"
CLIENT_STAMP = NODE_MODULES / ".prisma" / "client" / ".forgea-interop-schema"
WEBHOOK_SECRET = "forgea-interop-webhook-secret"

# Quiet, offline Prisma: no engine download, no update check, no telemetry.
PRISMA_ENV = {
    "PRISMA_SCHEMA_ENGINE_BINARY": "/bin/true",
    "PRISMA_HIDE_UPDATE_MESSAGE": "1",
    "CHECKPOINT_DISABLE": "1",
    "PRISMA_DISABLE_WARNINGS": "1",
    "NO_COLOR": "1",
    "FORCE_COLOR": "0",
}


class NodeMissing(RuntimeError):
    pass


def node_tools() -> dict[str, str]:
    tools = {name: shutil.which(name) for name in ("node", "npm", "npx")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        raise NodeMissing(f"{', '.join(missing)} not on PATH (install Node.js 20 or later with npm)")
    return {name: str(path) for name, path in tools.items()}


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


@contextmanager
def _workspace_lock(workspace: Path = WORKSPACE) -> Iterator[None]:
    """Serialise `npm ci` and client generation across concurrent pytest runs on this checkout."""
    key = hashlib.sha256(str(workspace).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"forgea-interop-{key}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} (in {cwd}) exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
        )
    return result


def base_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FORGEA_", "DATABASE_"))}
    env.update(PRISMA_ENV)
    return env


def install_workspace(workspace: Path = WORKSPACE) -> None:
    """`npm ci` unless node_modules already matches package-lock.json (a stamp records its digest).

    ``workspace``: another committed Node workspace (tests/contract/node) installs the same way."""
    tools = node_tools()
    stamp = workspace / "node_modules" / INSTALL_STAMP.name
    wanted = _digest(*((workspace / name).read_bytes() for name in ("package.json", "package-lock.json")))
    with _workspace_lock(workspace):
        if stamp.is_file() and stamp.read_text() == wanted:
            return
        _run(
            [tools["npm"], "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=workspace,
            env=base_env(),
            timeout=600,
        )
        stamp.write_text(wanted)


@dataclass
class Layout:
    """The monorepo-shaped tmp directory with the web app's code and our shims."""

    root: Path
    corpus: Path  # <corpus>/forgea
    env: dict[str, str] = field(default_factory=base_env)

    @property
    def schema_pkg(self) -> Path:
        return self.root / "packages" / "schema"

    @property
    def app(self) -> Path:
        return self.root / "apps" / "forgea-labs"

    def _env(self, url: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(self.env)
        if url is not None:
            env["DATABASE_URL"] = libpq_url(url)
        env["GITHUB_WEBHOOK_SECRET"] = WEBHOOK_SECRET
        env["NODE_ENV"] = "test"
        env.update(extra or {})
        return env

    def npx(self, *args: str, cwd: Path, url: str | None = None, timeout: float = 120, **extra: str):
        return _run([node_tools()["npx"], "--no", *args], cwd=cwd, env=self._env(url, extra), timeout=timeout)

    def prisma_generate(self, schema: Path | None = None) -> None:
        extra = {"FORGEA_INTEROP_SCHEMA": str(schema)} if schema is not None else {}
        self.npx("prisma", "generate", cwd=self.schema_pkg, **extra)

    def seed(self, url: str) -> subprocess.CompletedProcess:
        """The web app's own seed, as its README runs it: `npx tsx prisma/seed.ts` with DATABASE_URL."""
        return self.npx("tsx", "prisma/seed.ts", cwd=self.schema_pkg, url=url)

    def script(self, name: str, *args: str, url: str, **extra: str) -> dict[str, Any]:
        """Run one of our driver scripts (tests/interop/scripts) and parse the JSON it prints last."""
        # `node --import tsx` is `npx tsx` in one process (tsx's CLI spawns a second node): faster.
        result = _run(
            [node_tools()["node"], "--import", "tsx", f"scripts/{name}", *args],
            cwd=self.app,
            env=self._env(url, extra),
            timeout=120,
        )
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        if not lines:
            raise RuntimeError(f"{name} printed nothing\n--- stderr\n{result.stderr[-4000:]}")
        try:
            return json.loads(lines[-1])
        except json.JSONDecodeError as exc:
            raise RuntimeError(f"{name} did not end with a JSON line:\n{result.stdout[-4000:]}") from exc


def _link_node_modules(root: Path) -> None:
    modules = root / "node_modules"
    modules.mkdir(parents=True)
    for entry in NODE_MODULES.iterdir():
        if entry.name not in ("@forgea",) and not entry.name.startswith(".forgea"):
            (modules / entry.name).symlink_to(entry)
    (modules / "@forgea").mkdir()
    (modules / "@forgea" / "schema").symlink_to(Path("..", "..", "packages", "schema"))
    (modules / "@forgea" / "audit").symlink_to(Path("..", "..", "packages", "audit"))


def build_layout(root: Path, corpus: Path) -> Layout:
    """Lay the corpus out as in the monorepo under ``root`` (copies in tmp, never in the repository)."""
    forgea = corpus / "forgea"
    schema_pkg = root / "packages" / "schema"
    schema_pkg.mkdir(parents=True)
    shutil.copy2(forgea / "package.json", schema_pkg / "package.json")
    shutil.copytree(forgea / "prisma", schema_pkg / "prisma")
    shutil.copytree(forgea / "src", schema_pkg / "src")
    shutil.copy2(SHIMS / "prisma.config.ts", schema_pkg / "prisma.config.ts")
    (root / "packages" / "config" / "src").mkdir(parents=True)
    shutil.copy2(forgea / "config" / "env.ts", root / "packages" / "config" / "src" / "env.ts")
    shutil.copytree(SHIMS / "audit", root / "packages" / "audit")

    app = root / "apps" / "forgea-labs"
    route_dir = app / "app" / "api" / "webhooks" / "github"
    route_dir.mkdir(parents=True)
    shutil.copy2(forgea / "apps" / "webhook-route.ts", route_dir / "route.ts")
    (app / "lib").mkdir()
    shutil.copy2(SHIMS / "lib-db.ts", app / "lib" / "db.ts")
    shutil.copy2(SHIMS / "tsconfig.json", app / "tsconfig.json")
    shutil.copytree(SCRIPTS, app / "scripts")

    _link_node_modules(root)
    return Layout(root, forgea)


def prepare_webapp(root: Path, corpus: Path) -> Layout:
    """Install the workspace, lay the corpus out, and generate its client (once per schema)."""
    install_workspace()
    layout = build_layout(root, corpus)
    schema = (layout.schema_pkg / "prisma" / "schema.prisma").read_bytes()
    lock = (WORKSPACE / "package-lock.json").read_bytes()
    wanted = _digest(schema, lock, (SHIMS / "prisma.config.ts").read_bytes())
    with _workspace_lock():
        # The client of schema.prisma lives in the workspace's node_modules/.prisma/client, where
        # `@prisma/client` finds it; regenerate only when the schema or the versions change.
        if not (CLIENT_STAMP.is_file() and CLIENT_STAMP.read_text() == wanted):
            layout.prisma_generate()
            CLIENT_STAMP.write_text(wanted)
    return layout
