"""Where the built-in folders are: the source checkout's, else the copy installed with vs_sim.

The persona templates (``personas/``), population specs (``personas/populations/``),
scenarios (``scenarios/``) and reference data (``data/``) live at the repository root. A
wheel carries them inside the package as ``vs_sim/_builtin/<folder>`` (see the
``[tool.setuptools]`` tables in ``pyproject.toml``), in the same layout, so the relative
paths between them (a population spec's ``../../data/...``) hold in both places.

Running from a checkout or an editable install uses the checkout's folders, so an edited
template shows at once; a regular install uses its own copy.

    >>> builtin_dir("personas").joinpath("survey_respondent.j2").is_file()
    True
"""

from __future__ import annotations

import functools
import re
from importlib.resources import files
from pathlib import Path

from .errors import ConfigError

__all__ = ["BUILTIN_FOLDERS", "builtin_dir", "checkout_root"]

BUILTIN_FOLDERS = ("data", "personas", "scenarios")
"""The folders :func:`builtin_dir` knows."""

_PACKAGE_DIR = Path(__file__).resolve().parent
_OUR_PYPROJECT = re.compile(r"""^name\s*=\s*["']vs_sim["']""", re.M)


def _checkout_of(package_dir: Path) -> Path | None:
    """The folder above ``package_dir`` if it is vs_sim's own source checkout.

    Only a ``pyproject.toml`` naming the ``vs_sim`` project counts: an installed copy may sit
    next to unrelated ``data/`` or ``personas/`` folders (``pip install --target`` into a
    project, a stray top-level ``data`` package in site-packages).
    """
    root = package_dir.parent
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return root if _OUR_PYPROJECT.search(text) else None


@functools.cache
def checkout_root() -> Path | None:
    """The source checkout vs_sim runs from (also editable installs); ``None`` when installed."""
    return _checkout_of(_PACKAGE_DIR)


def builtin_dir(name: str) -> Path:
    """A built-in folder: ``"personas"``, ``"data"`` or ``"scenarios"``.

    The checkout's folder when vs_sim runs from its source tree, else the copy installed
    with the package. The folder is not required to exist (a stripped install); whoever
    reads from it reports the missing file with its full path.

    Raises:
        ConfigError: ``name`` is not a built-in folder, or vs_sim is installed in a zip
            archive, where the built-in files have no path on disk.
    """
    if name not in BUILTIN_FOLDERS:
        raise ConfigError(
            f"no built-in folder {name!r} (built-in: {', '.join(BUILTIN_FOLDERS)})",
            where="builtin_dir(name)",
        )
    root = checkout_root()
    if root is not None and (root / name).is_dir():
        return root / name
    installed = files(__package__ or "vs_sim") / "_builtin" / name
    if not isinstance(installed, Path):
        raise ConfigError(
            "vs_sim is installed in a zip archive; its built-in files need a regular "
            "(unzipped) install",
            where=str(installed),
        )
    return installed
