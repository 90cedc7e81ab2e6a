"""Fixtures for the durability tests: the executables copied once per run (a
fresh build may replace .build/release under a running test), a seeded random
generator (CHATHOOKS_DURABILITY_SEED=N reproduces a run's choices), and a
summary of what the runs saw (kills, fragments) at the end."""
import random
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import durable  # noqa: E402

PROGRAMS = ["chatdealer-chat-end", "chathooks"]


@pytest.fixture(scope="session")
def bin_dir(tmp_path_factory):
    missing = [p for p in PROGRAMS if not (durable.SOURCE_BIN_DIR / p).exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not built in {durable.SOURCE_BIN_DIR}: run swift build -c release first")
    target = tmp_path_factory.mktemp("bin")
    for p in PROGRAMS:
        shutil.copy2(durable.SOURCE_BIN_DIR / p, target / p)
    return target


@pytest.fixture
def rng(request):
    return random.Random(f"{durable.SEED}-{request.node.name}")


@pytest.fixture
def site(tmp_path, bin_dir):
    return durable.DSite(tmp_path / "site", bin_dir)


def pytest_terminal_summary(terminalreporter):
    if durable.SUMMARY:
        terminalreporter.section("durability")
        terminalreporter.write_line(f"seed {durable.SEED} (CHATHOOKS_DURABILITY_SEED={durable.SEED} repeats it)")
        for line in durable.SUMMARY:
            terminalreporter.write_line(line)
