"""The shell examples of a Markdown file: every fenced ```sh or ```bash block, in order,
except those preceded by ``<!-- not-run: reason -->`` (docs/developing.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\w*)\s*$")
NOT_RUN = re.compile(r"^<!--\s*not-run\b.*-->\s*$")
SHELLS = {"sh", "bash"}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    """Line of the opening fence (1-based)."""
    code: str


def shell_blocks(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        before = [line for line in lines[:i] if line.strip()]
        skipped = bool(before) and NOT_RUN.match(before[-1]) is not None
        if opening.group(1) in SHELLS and not skipped:
            blocks.append(Block(path, i + 1, "\n".join(lines[i + 1 : end])))
        i = end + 1
    return blocks


PRELUDE = r"""
set -euo pipefail
# An HTTP error fails the example, as a reader would notice it; an example that shows the
# status itself (curl -w) is left to print it.
curl() {
  case " $* " in
    *" -w "*|*" --write-out "*) command curl "$@" ;;
    *) command curl --fail-with-body "$@" ;;
  esac
}
trap 'jobs -p | xargs -r kill 2>/dev/null || true' EXIT
"""


def script(blocks: list[Block], root: Path) -> str:
    """One bash script running ``blocks`` in order (variables carry from block to block),
    announcing each block on stderr so a failure names it."""
    parts = [PRELUDE]
    for block in blocks:
        where = block.path.relative_to(root)
        parts.append(f"echo '>>> {where}:{block.line}' >&2\n{block.code}\n")
    return "\n".join(parts)
