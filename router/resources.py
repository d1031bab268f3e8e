"""Where the files the service needs beside its code are: Alembic's migrations and ini, the page templates.

In a checkout they sit at the top of the repository, beside `router/`; an installed wheel carries a copy in
`router/_data/` (setup.py puts it there). The copy wins when present, so an installed package never reads
files from whatever directory it happens to be run in.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PACKAGE_DIR / "_data"


def resource_path(name: str) -> Path:
    """The path of a top-level resource (`migrations`, `templates`, `alembic.ini`)."""
    bundled = BUNDLED_DIR / name
    if bundled.exists():
        return bundled
    return PACKAGE_DIR.parent / name
