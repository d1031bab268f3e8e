"""The built wheel is the whole service: installed into a fresh venv and run from an empty directory, it
migrates its own SQLite database and serves /readyz and the admin sign-in page. `pipx install` of the same
wheel gives the same `router`.

The wheel is built once per run from a copy of the tracked sources (so nothing untracked sneaks in), with
`--no-build-isolation` (no index needed). The pip test installs it with `--no-deps --no-index`; its
dependencies come from this test run's own environment through a path entry, so that test needs no network
and no minutes of dependency installs, and `pip check` proves the wheel's declared requirements are met by
that environment. The pipx test does what an operator does: pipx (in a venv of its own: pipx >= 1.8 wants a
filelock LiteLLM refuses) makes the router's own venv and pip installs the dependencies from the package
index, pinned to the versions this run was tested with and without compiling them (that halves its minute).
`make test` / CI (ROUTER_REQUIRE_DEPLOY_TOOLS=1) fail rather than skip when pipx cannot be installed.
"""

from __future__ import annotations

import os
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


def serves_from_an_empty_directory(bin_dir: Path, workdir: Path, installed_in: Path) -> None:
    """`router serve` from `bin_dir`, run in a new empty directory, migrates its own SQLite database there and
    answers /readyz and the admin sign-in page, with the migrations of the copy installed in `installed_in`."""
    workdir.mkdir()
    located = subprocess.run(
        [str(bin_dir / "python"), "-c", "import router.resources as r; print(r.resource_path('migrations'))"],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
        env=clean_env(),
    ).stdout.strip()
    assert located.startswith(str(installed_in)), located  # the wheel's copy, not a checkout's

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

    serves_from_an_empty_directory(bin_dir, tmp_path / "empty", installed_in=site)


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


@pytest.fixture(scope="module")
def pipx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pipx, installed from the package index into a venv of its own."""
    venv = tmp_path_factory.mktemp("pipx-tool")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "pipx"],
        capture_output=True,
        text=True,
        env=clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1"),
        timeout=300,
    )
    if done.returncode != 0:
        reason = f"cannot install pipx from the package index: {done.stderr.strip()[-300:]}"
        if os.environ.get("ROUTER_REQUIRE_DEPLOY_TOOLS") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return venv / "bin" / "pipx"


# Past the suite's 120 s: pipx's set-up, a dependency install from the index and a start (2-3 min at load 10-13).
@pytest.mark.timeout(900)
def test_pipx_installed_wheel_serves_readyz_and_the_sign_in_page_from_an_empty_directory(
    wheel: Path, pipx: Path, tmp_path: Path
) -> None:
    home = tmp_path / "pipx"
    tested = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
        env=clean_env(),
    ).stdout
    constraints = tmp_path / "tested-versions.txt"
    constraints.write_text(tested)
    env = clean_env(
        PIPX_HOME=str(home / "home"),
        PIPX_BIN_DIR=str(home / "bin"),
        PIPX_MAN_DIR=str(home / "man"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    done = subprocess.run(
        [str(pipx), "install", "--pip-args", f"--no-compile --constraint {constraints}", str(wheel)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # pipx links the app into PIPX_BIN_DIR; its venv (with `python`) is PIPX_HOME/venvs/router.
    venv = home / "home" / "venvs" / "router"
    assert (home / "bin" / "router").resolve() == (venv / "bin" / "router").resolve()
    site = venv / "lib"
    serves_from_an_empty_directory(venv / "bin", tmp_path / "empty", installed_in=site)
