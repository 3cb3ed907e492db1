"""What a user installs: the wheel carries the contract, and the CLI prints the document."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from contract_tests import contract

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("luma_mock-*.whl")
    return built


def test_the_wheel_carries_schemas_fixtures_and_media(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in contract.schema_names():
        assert f"contract_tests/schemas/{schema}.json" in names
    for fixture in contract.fixtures():
        assert f"contract_tests/fixtures/examples/{fixture.name}.json" in names
    assert "contract_tests/fixtures/media/acedata/1552x656.mp4" in names
    assert "contract_tests/fixtures/media/acedata/656x1552.jpg" in names
    assert "contract_tests/fixtures/media/dream-machine/1024x1024.png" in names


def test_the_wheel_has_no_top_level_schemas_or_fixtures_package(wheel: Path) -> None:
    top = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    packages = {t for t in top if not t.endswith(".dist-info")}
    assert packages == {"mock_server", "contract_tests"}
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("entry_points.txt"))
    )
    assert b"luma-mock = mock_server.cli:main" in entry_points


def test_redis_and_hiredis_are_the_redis_extra_and_dev_pulls_it_in(wheel: Path) -> None:
    """The in-memory fake installs without them (README, "Dependencies")."""
    archive = zipfile.ZipFile(wheel)
    metadata = archive.read(next(n for n in archive.namelist() if n.endswith("METADATA")))
    requires = [
        Requirement(line.split(":", 1)[1])
        for line in metadata.decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    for name in ("redis", "hiredis"):
        markers = {str(r.marker) for r in requires if r.name == name}
        assert markers == {'extra == "redis"', 'extra == "dev"'}, requires
    assert "Provides-Extra: redis" in metadata.decode()


def test_the_installed_contract_reads_its_own_copy(wheel: Path, tmp_path: Path) -> None:
    zipfile.ZipFile(wheel).extractall(tmp_path)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from contract_tests import contract;"
        "print(contract.schema_dir()); print(len(contract.fixtures()));"
        "print(contract.check('acedata/videos-request', {'prompt': 'x'}).ok)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert out[0] == str(tmp_path / "contract_tests" / "schemas")
    assert int(out[1]) == len(contract.fixtures()) and out[2] == "True"


def test_luma_mock_openapi_prints_the_document() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "openapi"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    document = json.loads(printed)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) >= {"/luma/videos", "/luma/tasks"}
