"""fsspec file systems as backends: any one (:class:`FsspecBackend`), and S3 (:class:`S3Backend`).

:class:`FsspecBackend` works through the file system's synchronous API (for an
asynchronous implementation each call runs its coroutine on fsspec's I/O
loop, and ``cat_ranges`` fetches ranges concurrently). Its many-writer
primitives are atomic within one process only (:mod:`wildzarr.storage._inprocess`).

:class:`S3Backend` talks to S3 with the aiobotocore client that s3fs holds and
is safe across processes and machines: exclusive create and compare-and-swap
are S3 conditional writes ("Conditional writes", Amazon S3 User Guide:
``PutObject`` with ``If-None-Match: *`` fails with 412 Precondition Failed if
the key exists, with ``If-Match: <etag>`` if its ETag differs). ETags are the
version tokens. Leases, which S3 cannot lock, are heartbeats: see
:meth:`S3Backend.claim`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

import fsspec
import fsspec.asyn
from fsspec.implementations.memory import MemoryFileSystem
from zarr.storage import FsspecStore

from wildzarr.errors import ArgumentError, StorageError
from wildzarr.storage._inprocess import InProcessBackend, shared_state
from wildzarr.storage.base import Lease, Versioned, check_key, check_range, join, storage_error

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

__all__ = ["FsspecBackend", "S3Backend"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


def _sync_filesystem(fs: fsspec.AbstractFileSystem) -> fsspec.AbstractFileSystem:
    """A synchronous instance of ``fs``'s file system (zarr's FsspecStore holds asynchronous ones).

    zarr wraps synchronous file systems in fsspec's ``AsyncFileSystemWrapper``
    (its ``sync_fs`` is the original); an asynchronous instance of an async
    implementation is re-made with ``asynchronous=False`` from its
    ``storage_options`` (fsspec caches instances, so this is usually a lookup).
    """
    wrapped = getattr(fs, "sync_fs", None)
    if isinstance(wrapped, fsspec.AbstractFileSystem):
        return wrapped
    if getattr(fs, "async_impl", False) and getattr(fs, "asynchronous", False):
        return type(fs)(**{**fs.storage_options, "asynchronous": False})
    return fs


class FsspecBackend(InProcessBackend):
    """The keys below ``root`` of an fsspec file system (``memory://``, ``gs://`` ...).

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
        The file system (an asynchronous instance is replaced by a synchronous
        one with the same options).
    root : str
        The root path in ``fs`` (a URL is stripped of its protocol).
    read_only : bool
        Refuse every write with ReadOnlyError.

    Notes
    -----
    ``create``, ``replace``, ``delete_if`` and leases are atomic only across the
    threads of this process (one lock per file system type, protocol and root).
    Listings invalidate fsspec's directory cache first, so they see other
    writers' objects. Pickles to ``fs`` (fsspec file systems pickle to their
    options), ``root`` and ``read_only``.
    """

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, *, read_only: bool = False) -> None:
        self.fs = _sync_filesystem(fs)
        self.root = self.fs._strip_protocol(root).rstrip("/")
        self.read_only = read_only
        self.latency_bound = not isinstance(self.fs, MemoryFileSystem)
        self._state = shared_state((type(self.fs).__name__, str(self.fs.protocol), self.root))

    def __getstate__(self) -> dict[str, Any]:
        return {"fs": self.fs, "root": self.root, "read_only": self.read_only}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def describe(self, key: str = "") -> str:
        return str(self.fs.unstrip_protocol(self._path(key)))

    def zarr_store(self) -> FsspecStore:
        return FsspecStore.from_mapper(self.fs.get_mapper(self.root), read_only=self.read_only)

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if key and self.root else key or self.root

    def _failure(self, exc: Exception, key: str) -> StorageError:
        """A StorageError for any failure of the file system (implementations raise their own types)."""
        where = self.describe(key)
        if isinstance(exc, OSError):
            return storage_error(exc, where)
        return StorageError(f"{where}: {type(exc).__name__}: {exc}", where)

    # -- reading -------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        path = self._path(check_key(key))
        try:
            return bytes(self.fs.cat_file(path))
        except (FileNotFoundError, IsADirectoryError):
            return None
        except Exception as exc:
            raise self._failure(exc, key) from exc

    def get_range(self, key: str, start: int, stop: int) -> bytes | None:
        check_range(start, stop)
        path = self._path(check_key(key))
        try:
            return bytes(self.fs.cat_file(path, start=start, end=stop))
        except (FileNotFoundError, IsADirectoryError):
            return None
        except Exception as exc:
            raise self._failure(exc, key) from exc

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[bytes | None]:
        for key, start, stop in requests:
            check_key(key)
            check_range(start, stop)
        try:
            results = self.fs.cat_ranges(
                [self._path(key) for key, _, _ in requests],
                [start for _, start, _ in requests],
                [stop for _, _, stop in requests],
                on_error="return",
            )
        except Exception as exc:
            raise self._failure(exc, "") from exc
        out: list[bytes | None] = []
        for (key, _, _), result in zip(requests, results, strict=True):
            if isinstance(result, FileNotFoundError | IsADirectoryError):
                out.append(None)
            elif isinstance(result, Exception):
                raise self._failure(result, key) from result
            else:
                out.append(bytes(result))
        return out

    def exists(self, key: str) -> bool:
        path = self._path(check_key(key))
        try:
            return bool(self.fs.isfile(path))
        except Exception as exc:
            raise self._failure(exc, key) from exc

    def list_dir(self, prefix: str) -> list[str]:
        path = self._path(check_key(prefix) if prefix else "")
        try:
            self.fs.invalidate_cache(path)
            entries = self.fs.ls(path, detail=False)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise self._failure(exc, prefix) from exc
        names = {entry.rstrip("/").rsplit("/", 1)[-1] for entry in entries if entry.rstrip("/") != path}
        return sorted(name for name in names if name)

    def list_keys(self, prefix: str) -> list[tuple[str, int]]:
        path = self._path(check_key(prefix) if prefix else "")
        below = f"{path}/" if path else ""
        try:
            self.fs.invalidate_cache(path)
            found = self.fs.find(path, detail=True)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise self._failure(exc, prefix) from exc
        keys = [
            (join(prefix, name[len(below) :]), int(info["size"]))
            for name, info in found.items()
            if name.startswith(below) and info.get("type", "file") == "file"
        ]
        return sorted(keys)

    # -- writing -------------------------------------------------------------------

    def put(self, key: str, data: bytes | memoryview) -> None:
        self._check_writable(check_key(key))
        try:
            self.fs.pipe_file(self._path(key), bytes(data))
        except Exception as exc:
            raise self._failure(exc, key) from exc

    def delete(self, key: str) -> None:
        self._check_writable(check_key(key))
        try:
            self.fs.rm_file(self._path(key))
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._failure(exc, key) from exc


# -- S3 ------------------------------------------------------------------------------

#: Object metadata (``x-amz-meta-wildzarr-lease``) telling a heartbeat-held lease from a released one.
_LEASE_FIELD = "wildzarr-lease"
_HELD = {_LEASE_FIELD: "held"}
_RELEASED = {_LEASE_FIELD: "released"}

#: Concurrent ranged GETs of one :meth:`S3Backend.get_ranges` call.
_MAX_CONCURRENT = 16

#: Keys per DeleteObjects request (the API's limit, Amazon S3 API Reference).
_DELETE_BATCH = 1000

#: Attempts at an exclusive create that S3 answers with 409 ConditionalRequestConflict.
_CONFLICT_ATTEMPTS = 5


@functools.cache
def _errors() -> tuple[type[ClientError], tuple[type[BaseException], ...]]:
    """botocore's ClientError and the transport errors of a request (imported on first use)."""
    import aiohttp
    from botocore.exceptions import BotoCoreError, ClientError

    return ClientError, (BotoCoreError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _retried(exc: ClientError) -> bool:
    """Whether botocore retried the request, so that an earlier attempt may have succeeded unseen."""
    return int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) > 0


def _missing(exc: ClientError) -> bool:
    """Whether the key does not exist (NoSuchKey; HEAD answers carry no body: "404", also for no bucket)."""
    return _code(exc) in ("NoSuchKey", "NotFound", "404")


class S3Backend(FsspecBackend):
    """The keys below ``bucket/prefix`` on S3 (or an S3-compatible server), safe across processes.

    Parameters
    ----------
    fs : s3fs.S3FileSystem
        Credentials, endpoint and client options; an asynchronous instance is
        replaced by a synchronous one with the same options (its I/O loop runs
        the requests).
    root : str
        ``"bucket"`` or ``"bucket/prefix"`` (an ``s3://`` URL is stripped).
    read_only : bool
        Refuse every write with ReadOnlyError.
    lease_seconds : float
        How long a lease outlives its last heartbeat, in seconds (default 60).

    Notes
    -----
    Every operation is the minimum of requests: ``get``, ``get_range``,
    ``put``, ``create``, ``replace`` and ``delete_if`` one each (``create`` and
    ``replace`` one more GET only after botocore retried a request that then
    failed its precondition), ``list_dir`` and ``list_keys`` one per 1,000
    names. ETags are the version tokens. Pickles to ``fs``, ``root``,
    ``read_only`` and ``lease_seconds``; clients and heartbeat threads stay
    behind.
    """

    multiprocess_safe = True

    def __init__(
        self,
        fs: fsspec.AbstractFileSystem,
        root: str,
        *,
        read_only: bool = False,
        lease_seconds: float = 60.0,
    ) -> None:
        super().__init__(fs, root, read_only=read_only)
        if not lease_seconds > 0:
            raise ArgumentError(f"lease_seconds must be positive, not {lease_seconds!r}")
        self.lease_seconds = float(lease_seconds)
        self.bucket, _, self.prefix = self.root.partition("/")
        if not self.bucket:
            raise ArgumentError(f"S3 root {root!r} names no bucket")

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "lease_seconds": self.lease_seconds}

    # -- plumbing --------------------------------------------------------------------

    def _object(self, key: str) -> str:
        return join(self.prefix, key)

    def _run(self, key: str, action: str, fn: Callable[..., Coroutine[Any, Any, _T]], *args: Any) -> _T:
        """Run ``fn(*args)`` on s3fs's I/O loop; S3 and transport errors become StorageError."""
        client_error, transport_errors = _errors()
        try:
            return cast(_T, fsspec.asyn.sync(self.fs.loop, fn, *args))
        except StorageError:
            raise  # already names its object (an OSError, like the transport errors below)
        except client_error as exc:
            where = self.describe(key)
            message = exc.response.get("Error", {}).get("Message", "")
            raise StorageError(f"{where}: S3 {action} failed: {_code(exc)} ({message})", where) from exc
        except transport_errors as exc:
            where = self.describe(key)
            raise StorageError(f"{where}: S3 {action} failed: {type(exc).__name__}: {exc}", where) from exc

    async def _client(self) -> Any:
        await self.fs.set_session()
        return await self.fs.get_s3(self.bucket)

    async def _get_object(self, key: str, byte_range: str | None = None) -> tuple[bytes, str] | None:
        """The bytes and ETag of ``key`` (``Range: bytes=a-b`` if given); None if missing.

        A range starting at or past the end (416 InvalidRange) gives ``b""``.
        """
        client_error, _ = _errors()
        client = await self._client()
        extra = {"Range": byte_range} if byte_range else {}
        try:
            response = await client.get_object(Bucket=self.bucket, Key=self._object(key), **extra)
        except client_error as exc:
            if _missing(exc):
                return None
            if byte_range and _status(exc) == 416:
                return b"", ""
            raise
        async with response["Body"] as body:
            data = await body.read()
        return data, str(response["ETag"])

    async def _put_object(self, key: str, data: bytes, **conditions: Any) -> str:
        client = await self._client()
        response = await client.put_object(Bucket=self.bucket, Key=self._object(key), Body=data, **conditions)
        return str(response["ETag"])

    async def _head(self, key: str) -> dict[str, Any] | None:
        client_error, _ = _errors()
        client = await self._client()
        try:
            return dict(await client.head_object(Bucket=self.bucket, Key=self._object(key)))
        except client_error as exc:
            if _missing(exc):
                return None
            raise

    async def _holds(self, key: str, data: bytes) -> str | None:
        """The ETag of ``key`` if it holds exactly ``data``, else None (the lost-response check)."""
        got = await self._get_object(key)
        return got[1] if got is not None and got[0] == data else None

    # -- reading -------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        got = self._run(key, "GetObject", self._get_object, check_key(key))
        return None if got is None else got[0]

    def get_versioned(self, key: str) -> Versioned | None:
        got = self._run(key, "GetObject", self._get_object, check_key(key))
        return None if got is None else Versioned(*got)

    def get_range(self, key: str, start: int, stop: int) -> bytes | None:
        check_range(start, stop)
        if start == stop:  # "bytes=a-(a-1)" is invalid, and S3 answers an invalid range with the whole object
            return b"" if self.exists(key) else None
        got = self._run(key, "GetObject", self._get_object, check_key(key), f"bytes={start}-{stop - 1}")
        return None if got is None else got[0]

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[bytes | None]:
        """The ranges, fetched concurrently (at most 16 requests in flight)."""
        if not requests:
            return []
        for key, start, stop in requests:
            check_key(key)
            check_range(start, stop)

        async def fetch_all() -> list[bytes | None]:
            limit = asyncio.Semaphore(_MAX_CONCURRENT)

            async def fetch(key: str, start: int, stop: int) -> bytes | None:
                async with limit:
                    if start == stop:
                        return None if await self._head(key) is None else b""
                    got = await self._get_object(key, f"bytes={start}-{stop - 1}")
                return None if got is None else got[0]

            return list(await asyncio.gather(*(fetch(*request) for request in requests)))

        return self._run(requests[0][0] if len(requests) == 1 else "", "GetObject", fetch_all)

    def exists(self, key: str) -> bool:
        return self._run(key, "HeadObject", self._head, check_key(key)) is not None

    def list_dir(self, prefix: str) -> list[str]:
        names, _ = self._run(prefix, "ListObjectsV2", self._list, prefix, "/")
        return names

    def list_keys(self, prefix: str) -> list[tuple[str, int]]:
        _, keys = self._run(prefix, "ListObjectsV2", self._list, prefix, None)
        return keys

    async def _list(self, prefix: str, delimiter: str | None) -> tuple[list[str], list[tuple[str, int]]]:
        """Names below ``prefix`` (with a delimiter) or keys and sizes (without), 1,000 per request."""
        base = self._object(check_key(prefix) if prefix else "")
        base = f"{base}/" if base else ""
        client = await self._client()
        names: set[str] = set()
        keys: list[tuple[str, int]] = []
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": base}
        if delimiter:
            request["Delimiter"] = delimiter
        while True:
            response = await client.list_objects_v2(**request)
            for common in response.get("CommonPrefixes", []):
                names.add(common["Prefix"][len(base) :].rstrip("/"))
            for item in response.get("Contents", []):
                rest = item["Key"][len(base) :]
                if rest and not rest.endswith("/"):  # skip "folder" marker objects
                    names.add(rest)
                    keys.append((join(prefix, rest), int(item["Size"])))
            if not response.get("IsTruncated"):
                break
            request["ContinuationToken"] = response["NextContinuationToken"]
        names.discard("")
        return sorted(names), sorted(keys)

    # -- writing -------------------------------------------------------------------

    def put(self, key: str, data: bytes | memoryview) -> None:
        self._check_writable(check_key(key))
        self._run(key, "PutObject", self._put_object, key, bytes(data))

    def create(self, key: str, data: bytes) -> bool:
        """``PutObject`` with ``If-None-Match: *``.

        A 412 after botocore retried the request may answer our own earlier
        attempt whose response was lost: then the object is read back, and
        the create counts as ours if it holds exactly ``data`` (the archive puts
        a random token in every document it creates). 409
        ConditionalRequestConflict (a concurrent write or delete in flight) is
        retried up to 5 times with exponential backoff from 50 ms.
        """
        self._check_writable(check_key(key))
        return self._run(key, "PutObject", self._create, key, bytes(data), {}) is not None

    async def _create(self, key: str, data: bytes, metadata: dict[str, str]) -> str | None:
        """The new ETag if this call created ``key``, else None."""
        client_error, _ = _errors()
        attempt = 0
        while True:
            try:
                return await self._put_object(key, data, IfNoneMatch="*", Metadata=metadata)
            except client_error as exc:
                attempt += 1
                if _status(exc) == 409 and attempt < _CONFLICT_ATTEMPTS:
                    await asyncio.sleep(0.05 * 2 ** (attempt - 1))
                    continue
                if _status(exc) != 412:
                    raise
                return await self._holds(key, data) if _retried(exc) else None

    def replace(self, key: str, data: bytes, version: str) -> bool:
        """``PutObject`` with ``If-Match: <version>``; False on 412, 409 or 404.

        As for :meth:`create`, a 412 after a retried request is checked against
        the stored bytes.
        """
        self._check_writable(check_key(key))
        return self._run(key, "PutObject", self._replace, key, bytes(data), version, {}) is not None

    async def _replace(self, key: str, data: bytes, version: str, metadata: dict[str, str]) -> str | None:
        """The new ETag if the object still had ETag ``version`` and now holds ``data``, else None."""
        client_error, _ = _errors()
        try:
            return await self._put_object(key, data, IfMatch=version, Metadata=metadata)
        except client_error as exc:
            if _status(exc) == 412 and _retried(exc):
                return await self._holds(key, data)
            if _status(exc) in (409, 412) or _missing(exc):
                return None
            raise

    def delete(self, key: str) -> None:
        self._check_writable(check_key(key))
        self._run(key, "DeleteObject", self._delete, key)

    async def _delete(self, key: str) -> None:
        client = await self._client()
        await client.delete_object(Bucket=self.bucket, Key=self._object(key))

    def delete_if(self, key: str, version: str) -> bool:
        """``DeleteObject`` with ``If-Match: <version>``; False on 412, 409 or 404.

        Servers that answer the condition with 501 NotImplemented get a HEAD,
        an ETag comparison and a plain DELETE instead: a writer replacing the
        object between the two requests loses its version (a window of one
        round trip). A server that ignores ``If-Match`` on DELETE altogether
        deletes unconditionally; moto 5.2.5 honours it.
        """
        self._check_writable(check_key(key))
        return self._run(key, "DeleteObject", self._delete_if, key, version)

    async def _delete_if(self, key: str, version: str) -> bool:
        client_error, _ = _errors()
        client = await self._client()
        try:
            await client.delete_object(Bucket=self.bucket, Key=self._object(key), IfMatch=version)
        except client_error as exc:
            if _status(exc) in (409, 412) or _missing(exc):
                return False
            if _status(exc) != 501 and _code(exc) != "NotImplemented":
                raise
            head = await self._head(key)
            if head is None or head["ETag"] != version:
                return False
            await self._delete(key)
        return True

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key below ``prefix`` with DeleteObjects, 1,000 keys per request."""
        self._check_writable(prefix)
        keys = self.list_keys(prefix)
        for first in range(0, len(keys), _DELETE_BATCH):
            batch = [key for key, _ in keys[first : first + _DELETE_BATCH]]
            self._run(prefix, "DeleteObjects", self._delete_batch, batch)
        return sum(size for _, size in keys)

    async def _delete_batch(self, keys: list[str]) -> None:
        client = await self._client()
        response = await client.delete_objects(
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": self._object(key)} for key in keys], "Quiet": True},
        )
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            where = f"s3://{self.bucket}/{first.get('Key', '')}"
            raise StorageError(
                f"{where}: S3 DeleteObjects failed for {len(errors)} keys: {first.get('Code')} "
                f"({first.get('Message', '')})",
                where,
            )

    # -- leases ----------------------------------------------------------------------

    def claim(self, key: str, data: bytes) -> Lease | None:
        """Create ``key`` (as :meth:`create`) and keep it alive with a heartbeat thread.

        S3 has no locks: the lease is the object's age. A daemon thread re-puts
        the same bytes with ``If-Match: <its ETag>`` every ``lease_seconds / 4``
        (a failed precondition means another writer rewrote the key: the
        heartbeat stops). The object's metadata says ``held``; releasing
        rewrites it once more saying ``released``.
        """
        self._check_writable(check_key(key))
        etag = self._run(key, "PutObject", self._create, key, bytes(data), _HELD)
        return None if etag is None else _HeartbeatLease(self, key, bytes(data), etag)

    def is_alive(self, key: str) -> bool:
        """Whether ``key`` says ``held`` and was rewritten less than ``lease_seconds`` ago.

        Compares the object's ``LastModified`` (whole seconds, set by the
        server's clock) with this machine's clock: the clocks must agree to
        well within ``lease_seconds`` (NTP-synchronised hosts do).
        """
        head = self._run(key, "HeadObject", self._head, check_key(key))
        if head is None or head.get("Metadata", {}).get(_LEASE_FIELD) != _HELD[_LEASE_FIELD]:
            return False
        return bool(time.time() - head["LastModified"].timestamp() < self.lease_seconds)

    def _renew(self, key: str, data: bytes, etag: str, metadata: dict[str, str]) -> str | None:
        """Rewrite a leased object with ``metadata``; its new ETag, or None if another writer changed it."""
        return self._run(key, "PutObject", self._replace, key, data, etag, metadata)


class _HeartbeatLease(Lease):
    """Keeps an S3 object's ``LastModified`` fresh from a daemon thread until released."""

    def __init__(self, backend: S3Backend, key: str, data: bytes, etag: str) -> None:
        self.key = key
        self._backend = backend
        self._data = data
        self._etag: str | None = etag
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._beat, name=f"wildzarr lease {key}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self._backend.lease_seconds / 4):
            assert self._etag is not None
            try:
                self._etag = self._backend._renew(self.key, self._data, self._etag, _HELD)
            except StorageError as exc:  # transient: try again at the next beat; the lease lapses if it lasts
                _log.warning("lease heartbeat failed: %s", exc)
                continue
            if self._etag is None:
                where = self._backend.describe(self.key)
                _log.warning("lease on %s lost: another writer rewrote the key", where)
                return

    def release(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self._stop.set()
        self._thread.join()
        if self._etag is None:
            return
        try:
            self._backend._renew(self.key, self._data, self._etag, _RELEASED)
        except StorageError as exc:  # the lease then lapses after lease_seconds
            _log.warning("could not mark the lease released: %s", exc)
