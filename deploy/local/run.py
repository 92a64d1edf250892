"""``make run``: NATS, S3, the mail sink and the five services on this machine.

Everything lives under ``var/`` (databases, the bus's store, S3 data, received mails,
logs are printed with a prefix per part). Besides ``dev-credentials.json`` it writes
``dev-env.sh`` (the URLs in use, for the README examples) and ``<service>.env`` (the settings
each service runs with, for its commands run by hand).

Ctrl-C (or SIGTERM) stops every process this started within seconds: the services are told
to stop at once (``SOCLE_SHUTDOWN_GRACE_SECONDS=1``, development only), then the mail sink,
NATS and S3 together (S3 killed after a second: see ``S3_STOP_SECONDS``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx

from socle_dev.localinfra import LOCAL_SIZING, NatsServer, S3Server, SmtpSink
from socle_procedures.portal.oidc import SCOPES as PORTAL_SCOPES

ROOT = Path(__file__).resolve().parents[2]
VAR = Path(os.environ.get("SOCLE_VAR_DIR", ROOT / "var"))
PORTS = {
    "procedures": int(os.environ.get("SOCLE_PROCEDURES_PORT", 8000)),
    "identity": int(os.environ.get("SOCLE_IDENTITY_PORT", 8001)),
    "payment": int(os.environ.get("SOCLE_PAYMENT_PORT", 8002)),
    "storage": int(os.environ.get("SOCLE_STORAGE_PORT", 8003)),
    "notify": int(os.environ.get("SOCLE_NOTIFY_PORT", 8004)),
}
NATS_PORT = int(os.environ.get("SOCLE_NATS_PORT", 4222))
S3_PORT = int(os.environ.get("SOCLE_S3_PORT", 8333))
SMTP_PORT = int(os.environ.get("SOCLE_SMTP_PORT", 1025))
S3_ACCESS_KEY = "socle-dev"
S3_SECRET_KEY = "socle-dev-secret-key"  # local SeaweedFS only
COLOURS = ["36", "32", "33", "35", "34", "31", "96", "92"]
START_ORDER = ["identity", "payment", "storage", "notify", "procedures"]
EXAMPLES = ROOT / "services" / "procedures" / "examples"
PORTAL_CLIENT = "demo-portal"


def say(message: str) -> None:
    print(f"\033[1m[socle]\033[0m {message}", flush=True)


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def pump(name: str, stream: IO[bytes], colour: str) -> None:
    prefix = f"\033[{colour}m{name:>10} |\033[0m "
    for raw in iter(stream.readline, b""):
        sys.stdout.write(prefix + raw.decode(errors="replace"))
        sys.stdout.flush()


def service_env(name: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "SOCLE_ENVIRONMENT": "development",
            "SOCLE_DATABASE_URL": f"sqlite+aiosqlite:///{VAR / (name + '.db')}",
            "SOCLE_NATS_URL": f"nats://127.0.0.1:{NATS_PORT}",
            "SOCLE_ISSUER": f"http://localhost:{PORTS['identity']}",
            "SOCLE_S3_ENDPOINT": f"http://127.0.0.1:{S3_PORT}",
            "SOCLE_S3_ACCESS_KEY": S3_ACCESS_KEY,
            "SOCLE_S3_SECRET_KEY": S3_SECRET_KEY,
            "SOCLE_SMTP_HOST": "127.0.0.1",
            "SOCLE_SMTP_PORT": str(SMTP_PORT),
            "SOCLE_PAYMENT_PUBLIC_URL": f"http://localhost:{PORTS['payment']}",
            "SOCLE_PUBLIC_URL": f"http://localhost:{PORTS[name]}",
            "SOCLE_WEBHOOK_ALLOW_PRIVATE": "true",
            "SOCLE_COMMUNE_NAME": "Commune de démo",
            "SOCLE_PORTAL_URL": f"http://localhost:{PORTS['procedures']}/",
            # Development: a request in flight gets one second at Ctrl-C, not the default 20.
            "SOCLE_SHUTDOWN_GRACE_SECONDS": "1",
        }
    )
    for other, port in PORTS.items():
        env[f"SOCLE_{other.upper()}_URL"] = f"http://localhost:{port}"
    return env


class Launcher:
    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.infra: list[NatsServer | S3Server] = []
        self.s3_master_url = ""
        self.sink: SmtpSink | None = None

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        colour = COLOURS[len(self.procs) % len(COLOURS)]
        threading.Thread(target=pump, args=(name, proc.stdout, colour), daemon=True).start()
        self.procs.append((name, proc))

    def start_infra(self) -> None:
        VAR.mkdir(exist_ok=True)
        logs = VAR / "logs"
        logs.mkdir(exist_ok=True)
        say(f"NATS JetStream on {NATS_PORT}")
        nats = NatsServer.create(VAR / "nats", NATS_PORT, log=(logs / "nats.log").open("ab"))
        nats.start()
        self.infra.append(nats)
        say(f"S3 (SeaweedFS) on {S3_PORT}, waiting for it to answer")
        s3 = S3Server.create(
            VAR / "s3",
            S3_PORT,
            S3_ACCESS_KEY,
            S3_SECRET_KEY,
            log=(logs / "s3.log").open("ab"),
            sizing=LOCAL_SIZING,
        )
        s3.start(timeout=120)
        self.infra.append(s3)
        self.s3_master_url = s3.master_url
        self.sink = SmtpSink(SMTP_PORT, VAR / "mail")
        self.sink.start()
        say(f"mail sink (SMTP) on {SMTP_PORT}; mails land in {VAR / 'mail'}/")

    def migrate(self) -> None:
        for name in START_ORDER:
            subprocess.run(
                [sys.executable, "-m", f"socle_{name}", "migrate"],
                env=service_env(name),
                cwd=ROOT,
                check=True,
            )
        say("database migrations applied")

    def portal_client(self) -> dict[str, str]:
        """The citizen portal's confidential client at identity, kept across runs while the
        portal's port stays the same (registered again when it moved)."""
        saved = VAR / "portal-client.json"
        portal = f"http://localhost:{PORTS['procedures']}"
        if saved.exists():
            kept: dict[str, str] = json.loads(saved.read_text())
            if kept.get("portal") == portal:
                return kept
            subprocess.run(
                [sys.executable, "-m", "socle_identity", "delete-client", PORTAL_CLIENT],
                env=service_env("identity"),
                cwd=ROOT,
                capture_output=True,
                check=False,  # already gone is fine
            )
        args = [
            sys.executable,
            "-m",
            "socle_identity",
            "create-client",
            "--tenant",
            "demo",
            "--name",
            "Guichet en ligne",
            "--client-id",
            PORTAL_CLIENT,
            "--redirect-uri",
            f"{portal}/auth/callback",
            "--post-logout-redirect-uri",
            f"{portal}/logged-out",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
        ]
        for scope in PORTAL_SCOPES:
            args += ["--scope", scope]
        done = subprocess.run(
            args, env=service_env("identity"), cwd=ROOT, check=True, capture_output=True, text=True
        )
        client: dict[str, str] = {**json.loads(done.stdout), "portal": portal}
        saved.write_text(json.dumps(client) + "\n")
        saved.chmod(0o600)
        return client

    def publish_examples(self) -> None:
        """The example procedures, published for tenant demo (unchanged ones are kept)."""
        for path in sorted(EXAMPLES.glob("*.yaml")):
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "socle_procedures",
                    "publish",
                    str(path),
                    "--tenant",
                    "demo",
                ],
                env=service_env("procedures"),
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        say("example procedures published for tenant demo")

    def start_services(self, portal: dict[str, str]) -> None:
        for name in START_ORDER:
            env = service_env(name)
            if name == "procedures":
                env["SOCLE_PORTAL_CLIENT_ID"] = portal["client_id"]
                env["SOCLE_PORTAL_CLIENT_SECRET"] = portal["client_secret"]
                env["SOCLE_PORTAL_TENANT"] = "demo"
            write_service_env(name, env)
            self.spawn(
                name,
                [
                    sys.executable,
                    "-m",
                    f"socle_{name}",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(PORTS[name]),
                ],
                env,
            )

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for name in START_ORDER:
            url = f"http://127.0.0.1:{PORTS[name]}/healthz"
            while True:
                proc = dict(self.procs)[name]
                if proc.poll() is not None:
                    raise SystemExit(f"{name} exited with {proc.returncode}; see its lines above")
                try:
                    if httpx.get(url, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name} did not answer {url} in {timeout:.0f}s")
                time.sleep(0.3)

    def seed(self) -> dict[str, object]:
        output = VAR / "dev-credentials.json"
        subprocess.run(
            [sys.executable, "-m", "socle_identity", "seed-demo", "--output", str(output)],
            env=service_env("identity"),
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return json.loads(output.read_text())  # type: ignore[no-any-return]

    def stop(self) -> None:
        """SIGTERM to every service at once, then to NATS and S3 together; SIGKILL to what
        still runs after its bound. The mail sink stops in this process."""
        for _, proc in self.procs:
            terminate(proc)
        for _, proc in self.procs:
            wait_or_kill(proc, STOP_SECONDS)
        if self.sink is not None:
            self.sink.stop()
        for server in self.infra:
            if server.proc is not None:
                terminate(server.proc)
        for server in self.infra:
            if server.proc is not None:
                bound = S3_STOP_SECONDS if isinstance(server, S3Server) else STOP_SECONDS
                wait_or_kill(server.proc, bound)


STOP_SECONDS = 10.0
S3_STOP_SECONDS = 1.0
"""SeaweedFS's graceful stop waits ~10 s on its own gRPC streams; it writes its files as it
goes, so killing it after a second loses nothing that a crash would not."""


def terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)


def wait_or_kill(proc: subprocess.Popen[bytes], seconds: float) -> None:
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def write_dev_env(s3_master_url: str) -> None:
    """``dev-env.sh``: the URLs in use, as shell variables (``. var/dev-env.sh``)."""
    lines = ["# The platform that make run started; in a shell: . var/dev-env.sh"]
    lines += [f"{name.upper()}_URL=http://localhost:{PORTS[name]}" for name in START_ORDER]
    lines += [
        f"NATS_URL=nats://127.0.0.1:{NATS_PORT}",
        f"S3_URL=http://127.0.0.1:{S3_PORT}",
        f"S3_MASTER_URL={s3_master_url}",
        f"MAIL_DIR={shlex.quote(str(VAR / 'mail'))}",
    ]
    (VAR / "dev-env.sh").write_text("\n".join(lines) + "\n")


def write_service_env(name: str, env: dict[str, str]) -> None:
    """``<service>.env``: the settings the service runs with, for its commands run by hand
    (``set -a; . var/storage.env; set +a``). Mode 0600: it holds the portal's secret."""
    path = VAR / f"{name}.env"
    path.touch(mode=0o600)
    path.chmod(0o600)
    settings = sorted((k, v) for k, v in env.items() if k.startswith("SOCLE_"))
    path.write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in settings))


def main() -> int:
    wanted = {
        **{f"{n} service": p for n, p in PORTS.items()},
        "NATS": NATS_PORT,
        "S3": S3_PORT,
        "SMTP sink": SMTP_PORT,
    }
    taken = [f"{what} port {port}" for what, port in wanted.items() if port_taken(port)]
    if taken:
        print(
            f"make run: {', '.join(taken)} already in use: stop what holds it (another "
            "make run?) or set SOCLE_<PART>_PORT",
            file=sys.stderr,
        )
        return 1
    launcher = Launcher()
    status = 0
    stop = threading.Event()
    # Ctrl-C, or SIGTERM, stops everything (even when started with SIGINT ignored, as a
    # background job of a script is).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        launcher.start_infra()
        launcher.migrate()
        credentials = launcher.seed()
        portal = launcher.portal_client()
        launcher.publish_examples()
        launcher.start_services(portal)
        launcher.wait_healthy()
        write_dev_env(launcher.s3_master_url)
        say(f"demo tenant, client and accounts written to {VAR / 'dev-credentials.json'}")
        say(f"the URLs in use written to {VAR / 'dev-env.sh'}")
        say(json.dumps(credentials, indent=2))
        say("Socle is running:")
        for name in START_ORDER:
            print(
                f"    {name:<11} http://localhost:{PORTS[name]}  "
                f"(API docs: http://localhost:{PORTS[name]}/docs)"
            )
        print(
            f"    {'NATS':<11} nats://127.0.0.1:{NATS_PORT}\n"
            f"    {'S3':<11} http://127.0.0.1:{S3_PORT} (key {S3_ACCESS_KEY})\n"
            f"    {'SMTP sink':<11} 127.0.0.1:{SMTP_PORT}, mails in {VAR / 'mail'}/"
        )
        say("Ctrl-C stops everything.")
        while not stop.is_set():
            for name, proc in launcher.procs:
                if proc.poll() is not None:
                    say(f"{name} exited with {proc.returncode}; stopping everything")
                    stop.set()
            stop.wait(1)
    except KeyboardInterrupt:
        pass
    except (subprocess.CalledProcessError, TimeoutError, RuntimeError) as exc:
        say(f"start-up failed: {exc}")
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("stopping")
        launcher.stop()
        say("stopped")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
