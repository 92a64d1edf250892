"""Reading the HTML pages of the services."""

from __future__ import annotations

import re


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)
