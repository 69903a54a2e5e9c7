"""A rich table that also prints as plain text."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

# Wide enough that no table of the package is wrapped; a table is only as wide
# as its content, so this is an upper limit, not a padding.
_TEXT_WIDTH = 200


class TextTable(Table):
    """A :class:`rich.table.Table` whose ``str()`` is the table as plain text.

    ``print(table)`` writes the rendered table (no colours or markup), and a
    rich console still renders it as a rich table.
    """

    def __str__(self) -> str:
        console = Console(
            file=io.StringIO(),
            width=_TEXT_WIDTH,
            color_system=None,
            force_terminal=False,
            record=True,
        )
        console.print(self)
        lines = console.export_text().rstrip("\n").splitlines()
        return "\n".join(line.rstrip() for line in lines)
