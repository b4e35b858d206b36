"""The many-writer primitives for stores without atomic operations, made atomic within one process.

Memory, zip and most fsspec file systems offer no exclusive create or
compare-and-swap. Their backends run ``create``, ``replace``, ``delete_if`` and
``claim`` under one process-wide lock per store, shared by every backend object
of this process over that store, and keep leases in a process-local table. This
is atomic across the threads of one process, not across processes
(``multiprocess_safe = False``).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Hashable

from wildzarr.storage.base import Backend, Lease, Versioned, check_key

__all__ = ["InProcessBackend", "SharedState", "shared_state"]


class SharedState:
    """The lock and the live leases shared by the backends of this process over one store."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.leases: dict[str, _InProcessLease] = {}


_states: weakref.WeakValueDictionary[Hashable, SharedState] = weakref.WeakValueDictionary()
_states_lock = threading.Lock()


def shared_state(identity: Hashable) -> SharedState:
    """The state for the store named by ``identity``, made on first use.

    It lives as long as a backend refers to it; a backend keeps its store
    alive, so an identity built from ``id()`` cannot be reused meanwhile.
    """
    with _states_lock:
        state = _states.get(identity)
        if state is None:
            state = _states[identity] = SharedState()
        return state


class _InProcessLease(Lease):
    def __init__(self, state: SharedState, key: str) -> None:
        self.key = key
        self._state = state

    def release(self) -> None:
        with self._state.lock:
            if self._state.leases.get(self.key) is self:
                del self._state.leases[self.key]


class InProcessBackend(Backend):
    """A backend whose many-writer primitives hold the process-wide lock of its store.

    Subclasses set ``self._state = shared_state(<identity of the store>)`` and
    implement the plain operations; ``get``, ``exists``, ``put`` and ``delete``
    must not take the lock themselves.
    """

    multiprocess_safe = False
    _state: SharedState

    def get_versioned(self, key: str) -> Versioned | None:
        data = self.get(key)
        return None if data is None else Versioned(data, hashlib.sha256(data).hexdigest())

    def create(self, key: str, data: bytes) -> bool:
        self._check_writable(check_key(key))
        with self._state.lock:
            if self.exists(key):
                return False
            self.put(key, data)
        return True

    def replace(self, key: str, data: bytes, version: str) -> bool:
        self._check_writable(check_key(key))
        with self._state.lock:
            current = self.get_versioned(key)
            if current is None or current.version != version:
                return False
            self.put(key, data)
        return True

    def delete_if(self, key: str, version: str) -> bool:
        self._check_writable(check_key(key))
        with self._state.lock:
            current = self.get_versioned(key)
            if current is None or current.version != version:
                return False
            self.delete(key)
        return True

    def claim(self, key: str, data: bytes) -> Lease | None:
        """Create ``key`` and mark it alive in this process until the lease is released."""
        self._check_writable(check_key(key))
        with self._state.lock:
            if self.exists(key):
                return None
            self.put(key, data)
            lease = self._state.leases[key] = _InProcessLease(self._state, key)
        return lease

    def is_alive(self, key: str) -> bool:
        with self._state.lock:
            return check_key(key) in self._state.leases
