"""A real S3 server for the tests: moto's, started once per session on a free local port.

Fixtures (registered in ``conftest.py``):

``s3_server``
    session-scoped; the endpoint URL (``http://127.0.0.1:<port>``). Skips the
    test when moto or s3fs is not installed.
``s3_url``
    a fresh bucket per test: ``("s3://wz-<hex>", storage_options)``.

moto 5.2.5 honours conditional writes (``If-None-Match: *``, ``If-Match``) on
PutObject and ``If-Match`` on DeleteObject. It checks the condition and then
writes without a lock (threaded server), relying on the GIL for the gap; 200
synchronised four-way create races showed no double create.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["MotoServer", "make_bucket", "s3_server", "s3_url", "storage_options", "use_test_credentials"]

#: Credentials moto accepts (any will do) and the region the buckets live in.
CREDENTIALS = {"key": "testing", "secret": "testing"}
REGION = "us-east-1"

#: Seconds to wait for the server to answer, and for it to exit when stopped.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """A ``python -m moto.server`` child process, stopped by its process id."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (closed by stop())
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self._process.returncode}: {self._output()}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                    return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto server did not answer within {START_TIMEOUT} s: {self._output()}")

    def _output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after STOP_TIMEOUT seconds)."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


def storage_options(endpoint: str) -> dict[str, Any]:
    """s3fs options for the local server."""
    return {**CREDENTIALS, "endpoint_url": endpoint, "client_kwargs": {"region_name": REGION}}


def make_bucket(endpoint: str, prefix: str = "wz") -> str:
    """Create a new, empty bucket on the server at ``endpoint``; return its name (3+ characters)."""
    import boto3

    bucket = f"{prefix}-{uuid.uuid4().hex[:16]}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["key"],
        aws_secret_access_key=CREDENTIALS["secret"],
        region_name=REGION,
    )
    client.create_bucket(Bucket=bucket)
    return bucket


def use_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point boto's environment at the test credentials and region (no user profile leaks in)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, CREDENTIALS["key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of a moto S3 server running for the whole session."""
    pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    pytest.importorskip("boto3")
    server = MotoServer()
    try:
        yield server.endpoint
    finally:
        server.stop()


@pytest.fixture
def s3_url(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, dict[str, Any]]]:
    """A new, empty bucket: ``("s3://<bucket>", storage_options)``."""
    use_test_credentials(monkeypatch)
    yield f"s3://{make_bucket(s3_server)}", storage_options(s3_server)
