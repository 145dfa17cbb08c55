"""A new user's first commands, as the README writes them, from a fresh clone.

The repository is cloned into a temporary directory; ``make run`` starts in the background,
then the README's ``curl``, ``make demo``, ``siyu status`` and ``siyu sql`` run in the clone,
and Ctrl-C (SIGINT to ``make run``'s process group, as a terminal sends it) stops the stack.
What the README says the user sees is asserted on what they print.

The only departures from the README: the ports are free ones chosen for this run (the
README's default ports are replaced in its commands and sample output), and ``.venv`` is
seeded from the current one (a new virtualenv whose path lists the clone and the current
packages) so that nothing is downloaded; ``SIYU_TEST_FULL_INSTALL=1`` makes ``make run``
install for real instead.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import psutil
import pytest

from siyu.ports import free_port
from siyu.settings import Settings
from tests.stack import read_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _seed_venv(clone: Path) -> None:
    """A virtualenv in the clone that imports siyu from the clone, its libraries from ours."""
    venv = clone / ".venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = venv / "lib" / version / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    (site / "_siyu_seed.pth").write_text(f"{clone}\n{sysconfig.get_paths()['purelib']}\n")
    script = venv / "bin" / "siyu"
    script.write_text(
        f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom siyu.cli import main\nsys.exit(main())\n"
    )
    script.chmod(0o755)
    (venv / ".installed").touch()


def _ports() -> dict[int, int]:
    """README default port → the free port this run uses instead."""
    d = Settings()
    worker = free_port(2)
    return {
        int(d.kafka.bootstrap.rpartition(":")[2]): free_port(),
        d.collector.port: free_port(),
        d.sql.port: free_port(),
        d.lookup.port: free_port(),
        d.worker.metrics_port: worker,
        d.sink.metrics_port: free_port(),
    }


def _env(ports: dict[int, int]) -> dict[str, str]:
    d = Settings()
    # A user's shell: not a sub-make of the `make test` running this suite.
    inherited = ("SIYU_", "VIRTUAL_ENV", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    env.update(
        SIYU_KAFKA_BOOTSTRAP=f"127.0.0.1:{ports[int(d.kafka.bootstrap.rpartition(':')[2])]}",
        SIYU_COLLECTOR_PORT=str(ports[d.collector.port]),
        SIYU_SQL_PORT=str(ports[d.sql.port]),
        SIYU_LOOKUP_PORT=str(ports[d.lookup.port]),
        SIYU_WORKER_METRICS_PORT=str(ports[d.worker.metrics_port]),
        SIYU_SINK_METRICS_PORT=str(ports[d.sink.metrics_port]),
    )
    return env


def _readme_blocks(text: str) -> list[str]:
    """The README's first code block, then those of its "What you see" section."""
    blocks = re.compile(r"```[a-z]*\n(.*?)```", flags=re.DOTALL)
    section = text.split("## What you see", 1)[1].split("\n## ", 1)[0]
    return blocks.findall(text)[:1] + blocks.findall(section)


def _pattern(sample: str) -> re.Pattern[str]:
    """A README sample line as a pattern: timings and elided paths vary."""
    escaped = re.escape(sample)
    escaped = re.sub(r"ready\\ in\\ [\d\\.]+\\ s", r"ready in \\d+\\.\\d s", escaped)
    escaped = escaped.replace("…/", ".*/")
    return re.compile(escaped)


def test_readme_first_commands_from_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "siyu"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    if os.environ.get("SIYU_TEST_FULL_INSTALL") != "1":
        _seed_venv(clone)
    ports = _ports()
    readme = (clone / "README.md").read_text()
    for default, port in ports.items():
        readme = readme.replace(f":{default}", f":{port}")
    first, sample, commands = _readme_blocks(readme)[:3]
    assert first.splitlines()[0].startswith("make run")
    env = _env(ports)

    make_run = subprocess.Popen(
        ["make", "run"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        shown = read_until(make_run, "Ctrl-C drains", timeout=600)
        children = psutil.Process(make_run.pid).children(recursive=True)
        # Every line of the README's sample output is printed, in that order.
        at = 0
        for sample_line in sample.splitlines():
            pattern = _pattern(sample_line)
            while at < len(shown) and not pattern.fullmatch(shown[at]):
                at += 1
            assert at < len(shown), f"README line {sample_line!r} not in {shown}"

        outputs = {}
        for command in commands.splitlines():
            command = command.split("  #", 1)[0].strip()
            done = subprocess.run(
                ["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            outputs.setdefault(" ".join(command.split()[:2]), done.stdout)  # first of a kind
            if command.startswith("make demo"):
                time.sleep(2)  # "the rows show up in siyu.events within a second"
    finally:
        os.killpg(make_run.pid, signal.SIGINT)  # Ctrl-C in the make run terminal
        try:
            rest, errors = make_run.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(make_run.pid, signal.SIGKILL)
            raise

    curl_answer = re.search(r"The first `curl` answers `(.*?)`", readme)
    assert curl_answer
    assert outputs["curl -s"] == curl_answer.group(1)
    demo = re.search(
        r"^sent (\d+) events .*; accepted (\d+), rejected 0$", outputs["make demo"], re.M
    )
    assert demo, outputs["make demo"]
    assert demo.group(1) == demo.group(2)
    rows = re.search(r"^  siyu\.events\s+([\d,]+)$", outputs[".venv/bin/siyu status"], re.M)
    assert rows, outputs[".venv/bin/siyu status"]
    assert int(rows.group(1).replace(",", "")) >= 1
    assert "$pageview" in outputs[".venv/bin/siyu sql"]
    stopped = rest.splitlines()
    assert any(line.startswith("  draining: workers ") for line in stopped), stopped
    assert re.search(r"^stopped; \d+ events drained into ClickHouse$", rest, re.M), rest
    assert "Traceback" not in errors
    _, alive = psutil.wait_procs(children, timeout=30)
    assert alive == []
