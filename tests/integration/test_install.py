"""``make install`` on every supported Python this machine has (3.11, 3.12, 3.13).

Each version installs into a fresh clone; the install must survive the two traps of a first
hour: a ``.venv`` made earlier by an unsupported interpreter is made again, and an install
that failed half-way (no package index) is retried by the next ``make`` instead of leaving a
broken ``.venv`` that counts as installed. The installed siyu then runs its CLI and the
unit tests of its command line and settings on that interpreter.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SUPPORTED = ("3.11", "3.12", "3.13")


def _runs(python: str, version: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def _find(version: str) -> str | None:
    """An interpreter of this version: on the PATH, else a pyenv installation."""
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    installed = sorted(glob.glob(f"{pyenv}/versions/{version}*/bin/python{version}"))
    for python in [shutil.which(f"python{version}") or "", *installed]:
        if python and _runs(python, version):
            return python
    return None


def _unsupported() -> str | None:
    return next(filter(None, map(_find, ("3.10", "3.9", "3.8"))), None)


INTERPRETERS = {v: python for v in SUPPORTED if (python := _find(v))}
CURRENT = "{}.{}".format(*sys.version_info[:2])


def _make(clone: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # As from a user's shell: no virtualenv, no siyu settings, and not a sub-make of the
    # `make test` running this suite (make would then print its "Entering/Leaving" lines).
    inherited = ("VIRTUAL_ENV", "SIYU_", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    return subprocess.run(
        ["make", *args], cwd=clone, env={**clean, **env}, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "version",
    # The running interpreter is covered by the suite itself; the others are installed here.
    [pytest.param(v, id=f"python{v}") for v in INTERPRETERS if v != CURRENT]
    or [pytest.param(CURRENT, id=f"python{CURRENT}")],
)
def test_make_install_on(version: str, tmp_path: Path) -> None:
    python = INTERPRETERS[version]
    clone = tmp_path / "siyu"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    venv_python = clone / ".venv" / "bin" / "python"

    old = _unsupported()
    if old is not None:  # a .venv left by an unsupported Python is made again
        subprocess.run([old, "-m", "venv", "--without-pip", str(clone / ".venv")], check=True)

    failed = _make(clone, "install", PY=python, PIP_NO_INDEX="1", PIP_FIND_LINKS="")
    assert failed.returncode != 0
    assert not (clone / ".venv" / ".installed").exists()
    if old is not None:
        assert ".venv was made by an unsupported Python; making it again" in failed.stdout
    assert _runs(str(venv_python), version)

    done = _make(clone, "install", PY=python)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (clone / ".venv" / ".installed").exists()
    assert _runs(str(venv_python), version)
    assert _make(clone, "install").stdout.strip().endswith("Nothing to be done for 'install'.")

    cli = subprocess.run(
        [str(clone / ".venv" / "bin" / "siyu"), "--version"], capture_output=True, text=True
    )
    assert cli.stdout.startswith("siyu ")
    tests = subprocess.run(
        [
            str(clone / ".venv" / "bin" / "pytest"),
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/unit/siyu",
        ],
        cwd=clone,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]


def test_no_supported_python_is_one_clear_line(tmp_path: Path) -> None:
    clone = tmp_path / "siyu"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    old = _unsupported() or "false"
    done = _make(clone, "install", PY=old)
    assert done.returncode != 0
    assert f"siyu needs Python 3.11, 3.12 or 3.13; {old} does not run or is another version" in (
        done.stderr
    )
    assert not (clone / ".venv").exists()


def test_clean_keeps_data(tmp_path: Path) -> None:
    clone = tmp_path / "siyu"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    (clone / ".venv").mkdir()
    (clone / "data" / "chdb").mkdir(parents=True)
    done = _make(clone, "clean")
    assert done.returncode == 0
    assert not (clone / ".venv").exists()
    assert (clone / "data" / "chdb").is_dir()
    assert "kept data/" in done.stdout
    assert _make(clone, "clean-data").returncode == 0
    assert not (clone / "data").exists()
