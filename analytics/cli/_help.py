"""Help text as a reader sees it: no source markup, no type label on on/off flags.

Command docstrings double as help text and as code documentation, so they may name code with
Sphinx roles (``:func:`analytics.x.y```) and literals in double backticks. :class:`PlainHelpGroup`
is the root command's class: every command it resolves (and that command's subcommands) has its
help, short help and option help rewritten by :func:`plain_help`, and its on/off flags (``--force``,
``--help``) shown without the ``<bool>`` type label that typer prints for them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import typer.core

__all__ = ["PlainHelpGroup", "plain_help", "tidy_command"]

_ROLE = re.compile(r":(?:func|class|meth|data|attr|mod|obj|exc|ref|doc):`(~?)([^`<>]+?)`")
_LITERAL = re.compile(r"``(.+?)``")


def plain_help(text: str | None) -> str | None:
    """``text`` without Sphinx roles and double backticks: ``:func:`~a.b.c``` → ``c``, ``:func:`a.b``` → ``a.b``,
    a double-backtick literal → the literal in single quotes.

    >>> plain_help("Runs :func:`~analytics.footage.pipeline.analyse_clip` (``-i NAME``).")
    "Runs analyse_clip ('-i NAME')."
    >>> plain_help(None) is None
    True
    """
    if text is None:
        return None
    text = _ROLE.sub(lambda m: m.group(2).rsplit(".", 1)[-1] if m.group(1) else m.group(2), text)
    return _LITERAL.sub(lambda m: f"'{m.group(1)}'", text)


def _quiet_flag(option: object) -> None:
    """An on/off flag shows no type label (its help says what it does).

    Typer's parameters subclass the click that typer carries, not always the ``click`` package
    imported here, so flags are recognised by their ``is_flag`` attribute.
    """
    if getattr(option, "is_flag", False):
        option.metavar = ""  # type: ignore[attr-defined]


def _help_option_getter(getter: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def get(ctx: Any) -> Any:
        option = getter(ctx)
        _quiet_flag(option)
        return option

    return get


def tidy_command(command: Any) -> Any:
    """Rewrite ``command``'s help texts and flags (and its subcommands', if a group) in place; once each."""
    if getattr(command, "_urbanlens_tidy", False):
        return command
    command.help = plain_help(command.help)
    command.short_help = plain_help(command.short_help)
    for param in command.params:
        _quiet_flag(param)
        if hasattr(param, "help"):
            param.help = plain_help(param.help)
    setattr(command, "get_help_option", _help_option_getter(command.get_help_option))  # noqa: B010 (an instance override)
    setattr(command, "_urbanlens_tidy", True)  # noqa: B010
    for sub in getattr(command, "commands", {}).values():
        tidy_command(sub)
    return command


class PlainHelpGroup(typer.core.TyperGroup):
    """The root command: tidies itself and every command it hands out (see the module docstring)."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        return tidy_command(command) if command is not None else None

    def main(self, *args: Any, **kwargs: Any) -> Any:
        tidy_command(self)
        return super().main(*args, **kwargs)
