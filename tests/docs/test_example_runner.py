"""The rules the docs test applies to an example: which blocks run, and what fails one."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.examples import script, shell_blocks

README = """# A service

<!-- not-run: a synopsis -->
```sh
serve --forever
```

```
plain fence: a listing
```

```console
$ a transcript
```

```sh
NAME=first
```

Some text.

```bash
echo "$NAME block"
```
"""


class Missing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "9")
        self.end_headers()
        self.wfile.write(b"not found")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def missing_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Missing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/nothing"
    server.shutdown()
    server.server_close()


def run(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    readme = tmp_path / "README.md"
    readme.write_text(text)
    return subprocess.run(
        ["bash", "-c", script(shell_blocks(readme), tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_only_unmarked_sh_and_bash_blocks_run_in_order_sharing_variables(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert [block.code for block in shell_blocks(readme)] == ["NAME=first", 'echo "$NAME block"']
    done = run(tmp_path, README)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "first block\n"


def test_an_undefined_variable_or_a_failing_command_fails_naming_the_block(tmp_path):
    done = run(tmp_path, "```sh\necho ok\n```\n\n```sh\necho $PAYMENT_TOKEN\n```\n")
    assert done.returncode != 0
    assert "PAYMENT_TOKEN: unbound variable" in done.stderr
    assert ">>> README.md:5" in done.stderr.splitlines()[-2]
    assert run(tmp_path, "```sh\nfalse | cat\necho never\n```\n").returncode != 0


def test_an_http_error_fails_unless_the_example_prints_the_status(tmp_path, missing_url):
    failed = run(tmp_path, f"```sh\ncurl -s {missing_url}\n```\n")
    assert failed.returncode == 22, failed.stderr
    status = f"curl -s -o /dev/null -w '%{{http_code}}\\n' {missing_url}"
    shown = run(tmp_path, f"```sh\n{status}\n```\n")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "404\n"
