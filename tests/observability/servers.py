"""Real servers for the observability tests, on 127.0.0.1 and free ports: Prometheus and
Alertmanager (Debian binaries), the platform exporter (`mlops-assets metrics`), and the two
receivers the test plays itself: an HTTP webhook (PagerDuty / Slack) and an SMTP sink."""

from __future__ import annotations

import json
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.net import free_port

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def wait_until(check: Callable[[], Any], timeout: float, what: str, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (httpx.TransportError, OSError):
            value = None
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Received:
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    mails: list[Any] = field(default_factory=list)  # email.message.Message
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [body for p, body in self.posts if p == path]


@contextmanager
def webhook(received: Received) -> Iterator[str]:
    """An HTTP receiver recording JSON posts by path; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with received.lock:
                received.posts.append((self.path, json.loads(body or b"{}")))
            reply = b'{"status": "success", "message": "Event processed", "dedup_key": "k"}'
            self.send_response(202 if self.path.startswith("/pagerduty") else 200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def smtp_sink(received: Received) -> Iterator[str]:
    """A minimal SMTP server (no TLS, no AUTH offered) keeping every message; yields
    host:port. Enough of RFC 5321 for Alertmanager's client."""

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.reply("220 sink ESMTP")
            while line := self.rfile.readline():
                verb = line.decode(errors="replace").strip().split(" ")[0].upper()
                if verb in {"EHLO", "HELO"}:
                    self.reply("250 sink")
                elif verb == "DATA":
                    self.reply("354 end with <CRLF>.<CRLF>")
                    data = bytearray()
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    with received.lock:
                        received.mails.append(message_from_bytes(bytes(data)))
                    self.reply("250 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:  # MAIL, RCPT, RSET, NOOP
                    self.reply("250 ok")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def process(args: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@contextmanager
def exporter(home: Path, workdir: Path) -> Iterator[str]:
    """`mlops-assets metrics` over `home`; yields host:port once /metrics answers."""
    port = free_port()
    env = {"MLOPS_HOME": str(home), "PATH": f"{BIN}:/usr/bin:/bin"}
    with process(
        [str(BIN / "mlops-assets"), "metrics", "--port", str(port)], workdir / "exporter.log", env
    ):
        target = f"127.0.0.1:{port}"
        wait_until(
            lambda: httpx.get(f"http://{target}/metrics", timeout=2).status_code == 200,
            60,
            "the exporter",
        )
        yield target


def fast_rules(dest: Path) -> Path:
    """The repo's rules with every `for:` at 0s, so a test does not wait minutes for a
    condition to hold; expressions, labels and annotations are the repo's."""
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            rule.pop("for", None)
    dest.write_text(yaml.safe_dump(rules, sort_keys=False))
    return dest


@contextmanager
def prometheus(
    workdir: Path,
    scrape: dict[str, str],
    rule_files: list[Path],
    alertmanager: str | None = None,
) -> Iterator[str]:
    """Prometheus scraping `scrape` (job -> host:port) every second; yields its base URL."""
    port = free_port()
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in scrape.items()
        ],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    args = [
        "prometheus",
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with process(args, workdir / "prometheus.log"):
        url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200, 60, "Prometheus"
        )
        yield url


@contextmanager
def alertmanager(workdir: Path, config: Path) -> Iterator[str]:
    """Alertmanager (no cluster) with `config`; yields host:port."""
    port = free_port()
    args = [
        "prometheus-alertmanager",
        f"--config.file={config}",
        f"--storage.path={workdir / 'alertmanager'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with process(args, workdir / "alertmanager.log"):
        target = f"127.0.0.1:{port}"
        wait_until(
            lambda: httpx.get(f"http://{target}/-/ready", timeout=2).status_code == 200,
            60,
            "Alertmanager",
        )
        yield target


def query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": promql}, timeout=10)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]["result"]
