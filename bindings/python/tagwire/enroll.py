"""Device identity, EST enrollment and credential inspection (tagwire/identity.h, enroll.h)."""
from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional

from ._ffi import cstr, ffi, lib, opt_string, reraise, store_exception, string
from ._handle import Handle
from .errors import Closed, EnrollError, check, check_new


@dataclass
class Identity:
    """Who this machine is (tw_identity); see tagwire/identity.h for the field rules."""
    device_id: str
    vendor: Optional[str] = None
    model: Optional[str] = None
    serial: Optional[str] = None
    hw_revision: Optional[str] = None
    fw_revision: Optional[str] = None

    def _c(self, keep: list) -> Any:
        c = ffi.new("tw_identity *")
        keep.append(c)
        c.version = lib.TW_IDENTITY_VERSION
        c.device_id = cstr(self.device_id, keep)
        c.vendor = cstr(self.vendor, keep)
        c.model = cstr(self.model, keep)
        c.serial = cstr(self.serial, keep)
        c.hw_revision = cstr(self.hw_revision, keep)
        c.fw_revision = cstr(self.fw_revision, keep)
        return c

    def check(self) -> None:
        """Raises EnrollError (TW_ERR_IDENTITY) naming the offending field."""
        keep: list = []
        why = ffi.new("char[]", 256)
        check(lib.tw_identity_check(self._c(keep), why, 256), string(why))

    def is_valid(self) -> bool:
        keep: list = []
        return lib.tw_identity_check(self._c(keep), ffi.NULL, 0) == 0

    @property
    def urn(self) -> str:
        """urn:tagwire:<vendor>:<model>:<serial> (NotFound when those are not all set)."""
        keep: list = []
        buf = ffi.new("char[]", lib.TW_IDENTITY_URN_MAX)
        check(lib.tw_identity_urn(buf, lib.TW_IDENTITY_URN_MAX, self._c(keep)))
        return string(buf)


class CredentialInfo(NamedTuple):
    has_current: bool
    has_pending: bool
    key_path: str
    chain_path: str
    pending_key_path: str
    pending_chain_path: str
    subject: str
    issuer: str
    serial: str
    uri: str
    not_before: int
    not_after: int
    renew_at: int


def inspect_credentials(directory: "os.PathLike[str] | str", fraction: float = 0.0) -> CredentialInfo:
    """Reads a credential directory without modifying it (tw_credential_inspect)."""
    i = ffi.new("tw_credential_info *")
    i.version = lib.TW_CREDENTIAL_INFO_VERSION
    check(lib.tw_credential_inspect(i, os.fspath(directory).encode(), fraction))
    return CredentialInfo(bool(i.has_current), bool(i.has_pending), string(i.key_path),
                          string(i.chain_path), string(i.pending_key_path),
                          string(i.pending_chain_path), string(i.subject), string(i.issuer),
                          string(i.serial), string(i.uri), i.not_before, i.not_after, i.renew_at)


def renew_time(not_before: int, not_after: int, fraction: float = 0.0) -> int:
    return lib.tw_enroll_renew_time(not_before, not_after, fraction)


def status_retriable(code: int) -> bool:
    return bool(lib.tw_enroll_status_retriable(code))


class EventType(enum.IntEnum):
    ENROLLED = lib.TW_ENROLL_EVENT_ENROLLED
    EXPIRING = lib.TW_ENROLL_EVENT_EXPIRING
    RENEWED = lib.TW_ENROLL_EVENT_RENEWED
    FAILED = lib.TW_ENROLL_EVENT_FAILED
    COMMITTED = lib.TW_ENROLL_EVENT_COMMITTED
    EXPIRED = lib.TW_ENROLL_EVENT_EXPIRED


class EnrollEvent(NamedTuple):
    type: EventType
    status: int
    retriable: bool
    retry_after_s: int
    message: str
    key_path: Optional[str]
    chain_path: Optional[str]
    not_after: int


class Enrollment(Handle):
    """An EST client with its credential directory (tw_enroll). Blocking calls; one thread."""
    _FREE = lib.tw_enroll_free
    _WHAT = "enrollment"
    _LAST_ERROR = lib.tw_enroll_last_error

    def __init__(self, server_url: str, credentials_dir: str, *,
                 identity: Optional[Identity] = None, server_ca_file: Optional[str] = None,
                 use_system_trust: bool = False, label: Optional[str] = None,
                 bootstrap_cert_file: Optional[str] = None, bootstrap_key_file: Optional[str] = None,
                 username: Optional[str] = None, password: Optional[str] = None,
                 max_attempts: int = 0, backoff_base_ms: int = 0, backoff_cap_ms: int = 0,
                 max_retry_after_s: int = 0, request_timeout_ms: int = 0,
                 renew_fraction: float = 0.0,
                 on_event: Optional[Callable[[EnrollEvent], None]] = None) -> None:
        keep: list = []
        o = ffi.new("tw_enroll_options *")
        o.version = lib.TW_ENROLL_OPTIONS_VERSION
        o.server_url = cstr(server_url, keep)
        o.label = cstr(label, keep)
        o.server_ca_file = cstr(server_ca_file, keep)
        o.use_system_trust = 1 if use_system_trust else 0
        o.bootstrap_cert_file = cstr(bootstrap_cert_file, keep)
        o.bootstrap_key_file = cstr(bootstrap_key_file, keep)
        o.username = cstr(username, keep)
        o.password = cstr(password, keep)
        o.credentials_dir = cstr(credentials_dir, keep)
        o.identity = identity._c(keep) if identity is not None else ffi.NULL
        o.max_attempts, o.backoff_base_ms, o.backoff_cap_ms = max_attempts, backoff_base_ms, backoff_cap_ms
        o.max_retry_after_s, o.request_timeout_ms = max_retry_after_s, request_timeout_ms
        o.renew_fraction = renew_fraction
        self._cb = None
        if on_event is not None:
            @ffi.callback("void(const tw_enroll_event *, void *)")
            def _cb(ev, _ud):
                try:
                    on_event(EnrollEvent(EventType(ev.type), ev.status, bool(ev.retriable),
                                         ev.retry_after_s, string(ev.message),
                                         opt_string(ev.key_path), opt_string(ev.chain_path),
                                         ev.not_after))
                except BaseException as e:
                    store_exception(e)
            self._cb = _cb
            o.on_event = _cb
        out = ffi.new("tw_enroll **")
        st = lib.tw_enroll_new(out, o)
        check_new(st)
        self._ptr = out[0]

    @property
    def last_error(self) -> str:
        return string(lib.tw_enroll_last_error(self._p()))

    @property
    def last_status(self) -> int:
        """The status that went with last_error (0 = TW_OK when none)."""
        return int(lib.tw_enroll_last_status(self._p()))

    @property
    def retry_after(self) -> int:
        return lib.tw_enroll_retry_after(self._p())

    def get_cacerts(self) -> None:
        self._check(lib.tw_enroll_get_cacerts(self._p()))

    def get_csrattrs(self) -> bytes:
        der = ffi.new("unsigned char **")
        n = ffi.new("size_t *")
        self._check(lib.tw_enroll_get_csrattrs(self._p(), der, n))
        if der[0] == ffi.NULL:
            return b""
        try:
            return bytes(ffi.buffer(der[0], n[0]))
        finally:
            lib.tw_free(der[0])

    def enroll(self) -> None:
        self._check(lib.tw_enroll_enroll(self._p()))

    def reenroll(self) -> None:
        self._check(lib.tw_enroll_reenroll(self._p()))

    def commit(self) -> None:
        self._check(lib.tw_enroll_commit(self._p()))

    def rollback(self) -> None:
        self._check(lib.tw_enroll_rollback(self._p()))

    def step(self, now_s: int = 0) -> None:
        self._check(lib.tw_enroll_step(self._p(), now_s))
