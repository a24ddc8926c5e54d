"""nginx as the benchmark server: a generated config, one worker, started and stopped by PID.

The config lives in a directory of its own. nginx runs in the foreground
(``daemon off``), so the child process is the master and its PID is the one
to signal. Two TLS listeners, one per certificate key type, offer TLS 1.2
and 1.3 with session tickets. A third, plain-HTTP listener serves
``stub_status``, whose accept and request totals are the server's counters.
Resumed handshakes are counted from an access log that gets one line per
connection (its first request) with ``$ssl_session_reused``, so keep-alive
requests cost no log write.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import List

from .certs import Certificates
from .content import LARGE, MEDIUM, SMALL_BODY, body_for
from .servers import HOST, BenchmarkServer, Counters, ServerError, free_ports, wait_for_port

START_ATTEMPTS = 3
STATUS_PATH = "/status"
WRITE_BLOCK_BYTES = 1024 * 1024

_STUB_STATUS = re.compile(rb"server accepts handled requests\s+(\d+)\s+(\d+)\s+(\d+)")

CONFIG_TEMPLATE = """\
{user}
worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    server_tokens off;
    default_type application/octet-stream;
    types {{ }}
    access_log off;
    open_file_cache max=16;
    # nginx closes a keep-alive connection after 1000 requests by default,
    # which would make a keep-alive batch reconnect partway through.
    keepalive_requests 100000000;
    keepalive_timeout 300s;

    client_body_temp_path {directory}/temp/body;
    proxy_temp_path {directory}/temp/proxy;
    fastcgi_temp_path {directory}/temp/fastcgi;
    uwsgi_temp_path {directory}/temp/uwsgi;
    scgi_temp_path {directory}/temp/scgi;

    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;
    ssl_session_cache shared:TLS:1m;

    map $connection_requests $is_first_request {{
        1 1;
        default 0;
    }}
    log_format connections '$connection $ssl_protocol $ssl_session_reused';

{servers}
    server {{
        listen {host}:{status_port};
        location = {status_path} {{
            stub_status;
        }}
    }}
}}
"""

TLS_SERVER_TEMPLATE = """\
    server {{
        listen {host}:{port} ssl;
        ssl_certificate {chain_file};
        ssl_certificate_key {key_file};
        access_log {directory}/connections.log connections if=$is_first_request;
        root {directory}/data;

        location = /13b {{
            default_type text/plain;
            return 200 "{small_body}";
        }}
        location = /64k {{ }}
        location = /100m {{ }}
        location = /64k-chunked {{
            # SSI drops Content-Length, so nginx sends the file chunked.
            ssi on;
            ssi_types *;
            alias {directory}/data/64k;
        }}
    }}
"""


def worker_user_directive() -> str:
    """Return the ``user`` directive for a master that runs as root, else nothing.

    nginx's default group for workers, "nobody", does not exist on Debian,
    so the group is taken from the nobody account itself.
    """
    if os.geteuid() != 0:
        return ""
    account = pwd.getpwnam("nobody")
    return f"user {account.pw_name} {grp.getgrgid(account.pw_gid).gr_name};"


def write_data_files(data: Path) -> None:
    """Write the bodies that nginx serves from files."""
    data.mkdir(mode=0o755)
    (data / "64k").write_bytes(body_for(MEDIUM))
    block = body_for(LARGE)[:WRITE_BLOCK_BYTES]
    with open(data / "100m", "wb") as file:
        for _ in range(LARGE.length // len(block)):
            file.write(block)


class NginxServer(BenchmarkServer):
    """nginx with a generated config in ``directory``."""

    name = "nginx"

    def __init__(self, executable: str, certificates: Certificates) -> None:
        super().__init__()
        self.executable = executable
        # Workers run as an unprivileged user when the master is root, so they
        # must be able to enter this directory and read the bodies. Its own
        # temporary directory keeps the private keys out of their reach.
        self.directory = Path(tempfile.mkdtemp(prefix="tlskit-bench-nginx-"))
        os.chmod(self.directory, 0o755)
        (self.directory / "temp").mkdir(mode=0o755)
        write_data_files(self.directory / "data")
        self.log_path = self.directory / "connections.log"
        self._log_offset = 0
        self._resumed = 0
        self._status_requests = 0
        self.version = self._read_version()
        self._start(certificates)

    @property
    def description(self) -> str:
        return f"nginx {self.version}, 1 worker"

    def counters(self) -> Counters:
        # Each status request is itself one connection and one request, and
        # nginx counts it before it writes the totals. Subtracting every status
        # request made so far leaves the clients' traffic alone, plus the
        # start-up port probes, which cancel out in the differences the runner uses.
        url = f"http://{HOST}:{self.status_port}{STATUS_PATH}"
        self._status_requests += 1
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read()
        match = _STUB_STATUS.search(text)
        if match is None:
            raise ServerError(f"unexpected stub_status output from nginx: {text[:200]!r}")
        accepts, _handled, requests = (int(value) for value in match.groups())
        return Counters(
            accepts - self._status_requests, requests - self._status_requests, self._count_resumed()
        )

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _count_resumed(self) -> int:
        if not self.log_path.exists():
            return self._resumed
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            text = log.read()
        complete = text[: text.rfind(b"\n") + 1]
        self._log_offset += len(complete)
        self._resumed += sum(1 for line in complete.splitlines() if line.endswith(b" r"))
        return self._resumed

    def _read_version(self) -> str:
        result = subprocess.run([self.executable, "-v"], capture_output=True, text=True, timeout=10)
        match = re.search(r"nginx/(\S+)", result.stderr + result.stdout)
        return match.group(1) if match else "unknown version"

    def _start(self, certificates: Certificates) -> None:
        errors: List[str] = []
        for _ in range(START_ATTEMPTS):
            ecdsa_port, rsa_port, status_port = free_ports(3)
            self.ports = {"ecdsa": ecdsa_port, "rsa": rsa_port}
            self.status_port = status_port
            config_path = self._write_config(certificates)
            self.process = subprocess.Popen(
                [
                    self.executable,
                    "-p",
                    str(self.directory),
                    "-c",
                    str(config_path),
                    "-e",
                    str(self.directory / "error.log"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                for port in (*self.ports.values(), status_port):
                    wait_for_port(port, self.process)
            except ServerError as exc:
                self.stop()
                errors.append(f"{exc}: {self._error_log_tail()}")
                continue
            return
        raise ServerError(f"nginx failed to start {START_ATTEMPTS} times: " + " | ".join(errors))

    def _write_config(self, certificates: Certificates) -> Path:
        servers = "".join(
            TLS_SERVER_TEMPLATE.format(
                host=HOST,
                port=self.ports[name],
                chain_file=files.chain_file,
                key_file=files.key_file,
                directory=self.directory,
                small_body=SMALL_BODY.decode("ascii").replace("\n", "\\n"),
            )
            for name, files in certificates.servers.items()
        )
        config = CONFIG_TEMPLATE.format(
            user=worker_user_directive(),
            directory=self.directory,
            servers=servers,
            host=HOST,
            status_port=self.status_port,
            status_path=STATUS_PATH,
        )
        path = self.directory / "nginx.conf"
        path.write_text(config)
        return path

    def _error_log_tail(self) -> str:
        try:
            return (self.directory / "error.log").read_text()[-500:].strip()
        except OSError:
            return "(no error log)"
