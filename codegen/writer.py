"""Python source written line by line, each block indented by the writer rather than by
hand-counted spaces in the generators."""
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

INDENT = "    "


class Writer:
    def __init__(self) -> None:
        self._lines: list[str] = []
        self._depth = 0

    def line(self, text: str = "") -> None:
        """One line, or several separated by newlines, at the current indentation;
        an empty line stays empty."""
        for part in text.split("\n"):
            self._lines.append(INDENT * self._depth + part if part else "")

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        """``header`` (an ``if ...:``, ``def ...:``) and, one level in, what the body of
        the ``with`` writes; ``pass`` when it writes nothing, so the block stays Python."""
        self.line(header)
        start = len(self._lines)
        self._depth += 1
        try:
            yield
            if len(self._lines) == start:
                self.line("pass")
        finally:
            self._depth -= 1

    def __len__(self) -> int:
        """The number of lines written."""
        return len(self._lines)

    def include(self, other: "Writer") -> None:
        """What ``other`` wrote, at the current indentation."""
        for part in other._lines:
            self._lines.append(INDENT * self._depth + part if part else "")

    def text(self) -> str:
        """Everything written, a newline after each line."""
        return "\n".join(self._lines) + "\n"


def cimport_line(module: str, names: tuple[str, ...]) -> str:
    """A ``from module cimport ...`` of ``names``, wrapped at 100 characters."""
    lines, line = [], f"from {module} cimport ("
    indent = " " * len(line)
    for index, name in enumerate(names):
        piece = name + (", " if index < len(names) - 1 else ")")
        if len(line) + len(piece.rstrip()) > 100:
            lines.append(line.rstrip())
            line = indent
        line += piece
    return "\n".join([*lines, line])


def write_both_builds(output: Path, stem: str, text: str) -> None:
    """``<stem>_py.py`` holding ``text``, and ``<stem>_c.py`` a link to it: one source,
    which the compiled build reads under the other name."""
    source = output / f"{stem}_py.py"
    source.write_text(text, encoding="utf-8")
    link = output / f"{stem}_c.py"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(source.name)
