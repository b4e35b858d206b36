"""A local S3 server for the benchmarks, and two independent counts of the requests sent to it.

The server is the test suite's moto server (``tests/s3server.py``, class ``MotoServer``),
imported from there rather than copied: the ``tests`` folder is put on ``sys.path``
(that module imports pytest, so the S3 benchmarks need pytest installed, as the test
extra does). Requests are counted twice:

- :class:`RequestCounter`: a botocore ``before-send.s3`` hook on the client of the
  s3fs file system wildzarr uses. It fires once per HTTP attempt, retries included,
  just before the request goes out.
- :class:`MotoRecorder`: moto's own request recorder (``/moto-api/recorder/...``),
  which logs every S3 request the server receives to a file (``MOTO_RECORDER_FILEPATH``,
  set before the server starts). Slow (it logs bodies), so only switched on around
  the few requests being counted.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"


def available() -> str | None:
    """None if the S3 benchmarks can run, else why not."""
    for module in ("moto.server", "s3fs", "boto3", "pytest"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install '.[test]')"
    if not (TESTS_DIR / "s3server.py").is_file():
        return f"{TESTS_DIR / 's3server.py'} is missing"
    return None


class S3:
    """A running moto server (stopped by :meth:`stop`) and the s3fs options to reach it."""

    def __init__(self) -> None:
        # tests/s3server.py holds the server the test suite uses; import it from there (not a copy).
        if str(TESTS_DIR) not in sys.path:
            sys.path.insert(0, str(TESTS_DIR))
        from s3server import MotoServer, make_bucket, storage_options

        self._log_dir = tempfile.mkdtemp(prefix="wz-bench-moto-")
        self.record_file = os.path.join(self._log_dir, "requests.jsonl")
        os.environ["MOTO_RECORDER_FILEPATH"] = self.record_file  # inherited by the server process
        self.server = MotoServer()
        self.endpoint = self.server.endpoint
        self.options: dict[str, Any] = storage_options(self.endpoint)
        self._make_bucket = make_bucket

    def new_bucket(self, prefix: str = "bench") -> str:
        """Create an empty bucket; return its name."""
        return self._make_bucket(self.endpoint, prefix)

    def fresh_filesystem(self) -> Any:
        """A new s3fs file system (and client) for the server, the one ``wildzarr.open`` will use.

        fsspec caches file system instances by their options (per thread), so
        clearing the cache and creating one here makes ``wildzarr.open(url,
        storage_options=self.options)`` in this thread get this very instance,
        with a client that has sent nothing yet.
        """
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        fs = s3fs.S3FileSystem(**self.options)
        fs.connect()  # creates the aiobotocore client (sends no request)
        return fs

    def server_cpu(self) -> float | None:
        """CPU seconds (user + system) the server process has used so far; None where /proc is missing."""
        pid = self._server_pid()
        if pid is None:
            return None
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (proc(5))

    def _server_pid(self) -> int | None:
        """The server's process id: the child of this process running ``moto.server`` on our port."""
        me = os.getpid()
        try:
            children = " ".join(
                Path(f"/proc/{me}/task/{task}/children").read_text()
                for task in os.listdir(f"/proc/{me}/task")
            ).split()
        except OSError:
            return None
        for child in children:
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"moto.server" in command and str(self.server.port).encode() in command:
                return int(child)
        return None

    def stop(self) -> None:
        self.server.stop()
        for name in os.listdir(self._log_dir):
            os.unlink(os.path.join(self._log_dir, name))
        os.rmdir(self._log_dir)


class RequestCounter:
    """Every HTTP request the client of an s3fs file system sends (a botocore ``before-send`` hook)."""

    def __init__(self, fs: Any) -> None:
        self.sent: list[tuple[str, str]] = []
        self._base = fs.s3.meta.endpoint_url.rstrip("/")
        fs.s3.meta.events.register("before-send.s3", self._hook)

    def _hook(self, request: Any, **_: Any) -> None:
        self.sent.append((request.method, request.url.removeprefix(self._base)))

    @contextmanager
    def counting(self) -> Iterator[list[tuple[str, str]]]:
        """The requests sent inside the ``with`` block (the list fills as they go out)."""
        first = len(self.sent)
        window: list[tuple[str, str]] = []
        try:
            yield window
        finally:
            window.extend(self.sent[first:])


class MotoRecorder:
    """moto's request recorder: what the server received, independently of the client."""

    def __init__(self, s3: S3) -> None:
        self._endpoint = s3.endpoint

    def _call(self, what: str, method: str = "POST") -> str:
        request = urllib.request.Request(f"{self._endpoint}/moto-api/recorder/{what}", method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(response.read().decode())

    @contextmanager
    def recording(self) -> Iterator[list[tuple[str, str]]]:
        """The (method, path) of every S3 request the server received inside the ``with`` block."""
        received: list[tuple[str, str]] = []
        self._call("reset-recording")
        self._call("start-recording")
        try:
            yield received
        finally:
            self._call("stop-recording")
            for line in self._call("download-recording", "GET").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    path = "/" + entry["url"].split("://", 1)[-1].split("/", 1)[-1]
                    received.append((entry["method"], path))
            self._call("reset-recording")
