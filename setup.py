"""Ship migrations/, templates/ and alembic.ini inside the wheel, as `router/_data/`.

They stay at the top of the repository (where Alembic and the admin page find them in a checkout); a built
wheel carries a copy so that an installed `router` needs nothing beside it. An editable install keeps
using the checkout's own files, so nothing is copied there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = ("migrations", "templates", "alembic.ini")


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "router" / "_data"
        for name in BUNDLED:
            source = ROOT / name
            destination = target / name
            if source.is_dir():
                shutil.copytree(
                    source, destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)


setup(cmdclass={"build_py": BuildPyWithData})
