"""The built wheel is the whole service: installed into a fresh venv and run from an empty directory, it
migrates its own SQLite database and serves /readyz and the admin sign-in page.

The wheel is built from a copy of the tracked sources (so nothing untracked sneaks in) and installed with
`--no-deps --no-index` (built with `--no-build-isolation`: no index needed at all); its dependencies come from this test run's own environment through a path entry, so
the test needs no network and no minutes of dependency installs. `pip check` then proves the wheel's
declared requirements are met by that environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.deploy.support import ROOT, clean_env, free_port, stop, wait_until_answers

pytestmark = pytest.mark.slow


def _tracked_sources(destination: Path) -> None:
    files = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True)
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know the tracked sources")
    source = tmp_path_factory.mktemp("source")
    _tracked_sources(source)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(source),
        ],
        check=True,
        env=clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )
    (built,) = out.glob("router-*.whl")
    return built


def test_wheel_contains_migrations_templates_and_alembic_ini(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "router/_data/alembic.ini" in names
    assert "router/_data/migrations/env.py" in names
    assert any(n.startswith("router/_data/migrations/versions/") and n.endswith(".py") for n in names)
    assert "router/_data/templates/base.html" in names
    assert "router/_data/templates/admin/login.html" in names
    assert "router/static/htmx.min.js" in names
    assert "router/providers/param_table.json" in names  # OpenAI-wire calls before LiteLLM has loaded
    assert not any("__pycache__" in n for n in names)


def test_installed_wheel_serves_readyz_and_the_sign_in_page_from_an_empty_directory(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        env=clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )
    # The dependencies: this environment's site-packages, after the venv's own (which holds the wheel).
    site = Path(
        subprocess.run(
            [str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    check = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "check"], capture_output=True, text=True, env=clean_env()
    )
    assert "router" not in check.stdout, check.stdout

    workdir = tmp_path / "empty"
    workdir.mkdir()
    located = subprocess.run(
        [str(bin_dir / "python"), "-c", "import router.resources as r; print(r.resource_path('migrations'))"],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
        env=clean_env(),
    ).stdout.strip()
    assert located.startswith(str(site)), located  # the wheel's copy, not a checkout's

    port = free_port()
    process = subprocess.Popen(
        [str(bin_dir / "router"), "serve", "--port", str(port)],
        cwd=workdir,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        ready = wait_until_answers(f"http://127.0.0.1:{port}/readyz", process)
        assert ready.json()["schema_current"] is True
        page = httpx.get(f"http://127.0.0.1:{port}/admin/login", timeout=5)
        assert page.status_code == 200
        assert "<form" in page.text and 'name="password"' in page.text
        assert (workdir / "router.db").exists()
    finally:
        output = stop(process)
    assert "Traceback" not in output, output


def test_dockerfile_builds_the_wheel_from_everything_it_bundles() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = " ".join(
        line for line in dockerfile.splitlines() if line.startswith("COPY") and "--from" not in line
    )
    for needed in ("pyproject.toml", "setup.py", "alembic.ini", "router", "migrations", "templates"):
        assert needed in copied.split(), f"the Dockerfile's build stage does not copy {needed}"
    assert "pip wheel" in dockerfile and "pip install /dist/router-*.whl" in dockerfile
    # The runtime stage holds the installed venv only: no source tree on PYTHONPATH.
    runtime = dockerfile.split("FROM python:3.11-slim\n", 1)[1]
    assert "PYTHONPATH" not in runtime and "COPY router" not in runtime
