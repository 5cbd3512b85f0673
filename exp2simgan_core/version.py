"""Which code made a file: the release and, in a git checkout, the commit and a dirty flag.

``code_version()`` is stored with every HDF5 file (``code_version`` attribute) and checkpoint,
and printed by ``exp2simgan --version``. In a git checkout it is ``<release>+g<commit>`` (12 hex
digits of ``git describe --always``), with ``.dirty`` appended when tracked files differ from
that commit; outside one (an installed wheel, git missing) it is the release alone.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from exp2simgan_core import __version__

REPO_ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def code_version() -> str:
    """``0.1.0+g0123456789ab`` (``.dirty`` if modified) in a git checkout, else ``0.1.0``.

    Computed once per process: a workflow job records the code it started with.
    """
    if not (REPO_ROOT / ".git").exists():
        return __version__
    try:
        described = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "describe", "--always", "--abbrev=12", "--dirty"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return __version__
    commit, dirty = described.removesuffix("-dirty"), described.endswith("-dirty")
    return f"{__version__}+g{commit.rsplit('-g', 1)[-1]}" + (".dirty" if dirty else "")
