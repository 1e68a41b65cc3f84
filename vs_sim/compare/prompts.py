"""Prompts to compare methods on: a text file, one per line, valid answers after ``||``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ..errors import ConfigError


class ComparePrompt(BaseModel):
    """One prompt, with the valid answers when the answer can be checked.

    Attributes:
        text: The task prompt.
        valid: The valid answers (for coverage), or ``None`` for an open-ended prompt.
        where: Where it was read (``file:line``), for error messages.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    valid: tuple[str, ...] | None = None
    where: str | None = None


def _lines(path: str | os.PathLike[str]) -> list[tuple[int, str]]:
    """Non-blank, non-comment lines of a text file with their 1-based numbers."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or exc}", where=str(path)) from exc
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append((number, stripped))
    return out


def read_prompts(path: str | os.PathLike[str]) -> list[ComparePrompt]:
    """Prompts from a text file: one per line, blank lines and ``#`` comments skipped.

    A line may end with ``|| answer|answer|...``, the valid answers of a checkable prompt
    (e.g. ``Name a US state || Alabama|Alaska|...``).

    Raises:
        ConfigError: The file is unreadable or has no prompt, or a line is malformed
            (``where`` is ``file:line``).
    """
    prompts: list[ComparePrompt] = []
    for number, line in _lines(path):
        where = f"{path}:{number}"
        text, sep, answers = line.partition("||")
        text = text.strip()
        if not text:
            raise ConfigError("the line has valid answers but no prompt", where=where)
        valid: tuple[str, ...] | None = None
        if sep:
            valid = tuple(a.strip() for a in answers.split("|") if a.strip())
            if not valid:
                raise ConfigError("'||' must be followed by answers separated by '|'", where=where)
        prompts.append(ComparePrompt(text=text, valid=valid, where=where))
    if not prompts:
        raise ConfigError("no prompts in the file (only blank or # comment lines)", where=str(path))
    return prompts


def read_valid(path: str | os.PathLike[str]) -> list[str]:
    """Valid answers from a text file, one per line (blank lines and ``#`` comments skipped)."""
    answers = [line for _, line in _lines(path)]
    if not answers:
        raise ConfigError("no valid answers in the file", where=str(path))
    return answers


def as_prompts(prompts: Sequence[str | ComparePrompt]) -> list[ComparePrompt]:
    """:class:`ComparePrompt` objects from texts or prompts, refusing none or an empty one."""
    if isinstance(prompts, str):
        raise ConfigError("prompts must be a list of prompts, not one string", where="prompts")
    out = [p if isinstance(p, ComparePrompt) else ComparePrompt(text=p) for p in prompts]
    if not out:
        raise ConfigError("no prompts given", where="prompts")
    for i, p in enumerate(out):
        if not p.text.strip():
            raise ConfigError("the prompt is empty", where=p.where or f"prompts[{i}]")
    return out
