"""MkDocs hook (``hooks:`` in mkdocs.yml): the reStructuredText left in numpydoc docstrings, rendered.

The docstrings are numpydoc, written for Sphinx as much as for mkdocstrings, and use two pieces of
reStructuredText that Markdown does not know:

- roles naming objects, ``:class:`Recording``` or ``:meth:`~wildzarr.Archive.read_many```, which
  Markdown renders as the role followed by code (``:class:<code>Recording</code>``): the role is
  dropped and the code kept (for a ``~`` target, its last part, as Sphinx shows it);
- a paragraph ending in ``::`` before an indented literal block, which Markdown renders as a code
  block already: the ``::`` becomes ``:``, as Sphinx prints it.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|data|exc|obj|const):<code>(~?)([^<]*)</code>")
_LITERAL = re.compile(r"::</p>(\s*<div class=\"highlight\"><pre>)")


def _plain(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"<code>{target.rsplit('.', 1)[-1] if short else target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    """The page's HTML with the roles before code spans removed and ``::`` before code blocks as ``:``."""
    return _LITERAL.sub(r":</p>\1", _ROLE.sub(_plain, html))
