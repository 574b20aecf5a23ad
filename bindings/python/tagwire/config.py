"""Gateway configuration loaded from JSON (tagwire/config.h)."""
from __future__ import annotations

import os
from typing import Any, List, NamedTuple, Optional, Tuple

from ._ffi import ffi, lib, opt_string, string
from ._handle import Handle
from .core import Type
from .errors import Closed, ConfigError, check, check_new
from .store import Overflow, Sync
from .tags import Access, DeadbandMode


class ScanGroup(NamedTuple):
    name: str
    rate_ms: int


class Scaling(NamedTuple):
    raw_min: float
    raw_max: float
    eng_min: float
    eng_max: float


class Config(Handle):
    """A loaded, validated, immutable configuration. Load with Config.load_file() or
    Config.load_string(); ConfigError carries the loader's message (file, JSON path, problem)."""
    _FREE = lib.tw_config_free
    _WHAT = "config"

    def __init__(self) -> None:
        out = ffi.new("tw_config **")
        check_new(lib.tw_config_new(out))
        self._ptr = out[0]

    @classmethod
    def load_file(cls, path: "os.PathLike[str] | str") -> "Config":
        c = cls()
        try:
            st = lib.tw_config_load_file(c._ptr, os.fspath(path).encode())
            check(st, lambda: string(lib.tw_config_last_error(c._ptr)), ConfigError)
        except BaseException:
            c.close()
            raise
        return c

    @classmethod
    def load_string(cls, text: "str | bytes", name: Optional[str] = None,
                    base_dir: Optional[str] = None) -> "Config":
        c = cls()
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        try:
            st = lib.tw_config_load_string(c._ptr, data, len(data),
                                           name.encode() if name else ffi.NULL,
                                           base_dir.encode() if base_dir else ffi.NULL)
            check(st, lambda: string(lib.tw_config_last_error(c._ptr)), ConfigError)
        except BaseException:
            c.close()
            raise
        return c

    @property
    def last_error(self) -> str:
        return string(lib.tw_config_last_error(self._p()))

    @property
    def last_status(self) -> int:
        return lib.tw_config_last_status(self._p())

    @property
    def loaded(self) -> bool:
        return bool(lib.tw_config_is_loaded(self._p()))

    @property
    def source(self) -> Optional[str]:
        return opt_string(lib.tw_config_source(self._p()))

    group_id = property(lambda s: opt_string(lib.tw_config_group_id(s._p())))
    edge_node_id = property(lambda s: opt_string(lib.tw_config_edge_node_id(s._p())))
    primary_host_id = property(lambda s: opt_string(lib.tw_config_primary_host_id(s._p())))
    broker_uri = property(lambda s: opt_string(lib.tw_config_broker_uri(s._p())))
    broker_host = property(lambda s: opt_string(lib.tw_config_broker_host(s._p())))
    broker_port = property(lambda s: lib.tw_config_broker_port(s._p()))
    insecure = property(lambda s: bool(lib.tw_config_insecure(s._p())))
    client_id = property(lambda s: opt_string(lib.tw_config_client_id(s._p())))
    keep_alive_s = property(lambda s: lib.tw_config_keep_alive_s(s._p()))
    tls_ca_file = property(lambda s: opt_string(lib.tw_config_tls_ca_file(s._p())))
    tls_cert_file = property(lambda s: opt_string(lib.tw_config_tls_cert_file(s._p())))
    tls_key_file = property(lambda s: opt_string(lib.tw_config_tls_key_file(s._p())))
    tls_crl_file = property(lambda s: opt_string(lib.tw_config_tls_crl_file(s._p())))
    tls_server_name = property(lambda s: opt_string(lib.tw_config_tls_server_name(s._p())))
    has_store = property(lambda s: bool(lib.tw_config_has_store(s._p())))
    store_dir = property(lambda s: opt_string(lib.tw_config_store_dir(s._p())))
    store_max_bytes = property(lambda s: lib.tw_config_store_max_bytes(s._p()))
    store_max_age_s = property(lambda s: lib.tw_config_store_max_age_s(s._p()))
    store_fsync_interval_ms = property(lambda s: lib.tw_config_store_fsync_interval_ms(s._p()))
    has_enroll = property(lambda s: bool(lib.tw_config_has_enroll(s._p())))
    enroll_est_url = property(lambda s: opt_string(lib.tw_config_enroll_est_url(s._p())))
    enroll_server_ca_file = property(lambda s: opt_string(lib.tw_config_enroll_server_ca_file(s._p())))
    enroll_credentials_dir = property(lambda s: opt_string(lib.tw_config_enroll_credentials_dir(s._p())))
    enroll_renew_fraction = property(lambda s: lib.tw_config_enroll_renew_fraction(s._p()))
    enroll_retry_max_s = property(lambda s: lib.tw_config_enroll_retry_max_s(s._p()))

    @property
    def store_fsync(self) -> Optional[Sync]:
        """The store's sync policy ("fsync"), None without a "store" block."""
        return Sync(lib.tw_config_store_fsync(self._p())) if self.has_store else None

    @property
    def store_overflow(self) -> Optional[Overflow]:
        """What a full store gives up ("overflow"), None without a "store" block."""
        return Overflow(lib.tw_config_store_overflow(self._p())) if self.has_store else None

    @property
    def tls_pins(self) -> List[str]:
        p = self._p()
        return [string(lib.tw_config_tls_pin(p, i)) for i in range(lib.tw_config_tls_pin_count(p))]

    @property
    def devices(self) -> List["ConfigDevice"]:
        p = self._p()
        return [ConfigDevice(self, lib.tw_config_device_at(p, i))
                for i in range(lib.tw_config_device_count(p))]

    def device(self, device_id: str) -> Optional["ConfigDevice"]:
        d = lib.tw_config_device_find(self._p(), device_id.encode())
        return None if d == ffi.NULL else ConfigDevice(self, d)


class ConfigDevice:
    """One device of a Config (valid while the Config is open)."""

    def __init__(self, cfg: Config, ptr: Any) -> None:
        self._cfg = cfg
        self._ptr = ptr

    def _p(self) -> Any:
        self._cfg._p()
        return self._ptr

    id = property(lambda s: string(lib.tw_config_device_id(s._p())))
    adapter = property(lambda s: opt_string(lib.tw_config_device_adapter(s._p())))
    scheme = property(lambda s: opt_string(lib.tw_config_device_scheme(s._p())))
    path = property(lambda s: string(lib.tw_config_device_path(s._p())))

    @property
    def scan_groups(self) -> List[ScanGroup]:
        p = self._p()
        return [ScanGroup(string(lib.tw_config_device_scan_group_name(p, i)),
                          lib.tw_config_device_scan_group_rate_ms(p, i))
                for i in range(lib.tw_config_device_scan_group_count(p))]

    @property
    def tags(self) -> List["ConfigTag"]:
        p = self._p()
        return [ConfigTag(self._cfg, lib.tw_config_device_tag_at(p, i))
                for i in range(lib.tw_config_device_tag_count(p))]

    def tag(self, name: str) -> Optional["ConfigTag"]:
        t = lib.tw_config_device_tag_find(self._p(), name.encode())
        return None if t == ffi.NULL else ConfigTag(self._cfg, t)

    def __repr__(self) -> str:
        return "<tagwire.ConfigDevice %r %s>" % (self.id, self.adapter)


class ConfigTag:
    """One tag of a ConfigDevice."""

    def __init__(self, cfg: Config, ptr: Any) -> None:
        self._cfg = cfg
        self._ptr = ptr

    def _p(self) -> Any:
        self._cfg._p()
        return self._ptr

    name = property(lambda s: string(lib.tw_config_tag_name(s._p())))
    path = property(lambda s: string(lib.tw_config_tag_path(s._p())))
    address = property(lambda s: opt_string(lib.tw_config_tag_address(s._p())))
    type = property(lambda s: Type(lib.tw_config_tag_type(s._p())))
    scan_group = property(lambda s: opt_string(lib.tw_config_tag_scan_group(s._p())))
    scan_rate_ms = property(lambda s: lib.tw_config_tag_scan_rate_ms(s._p()))
    unit = property(lambda s: opt_string(lib.tw_config_tag_unit(s._p())))
    description = property(lambda s: opt_string(lib.tw_config_tag_description(s._p())))
    access = property(lambda s: Access(lib.tw_config_tag_access(s._p())))

    @property
    def device(self) -> ConfigDevice:
        return ConfigDevice(self._cfg, lib.tw_config_tag_device(self._p()))

    @property
    def deadband(self) -> Tuple[DeadbandMode, float]:
        """(mode, amount) as the tag model takes them; (ABSOLUTE, 0.0) when the tag has none."""
        v = ffi.new("double *")
        k = lib.tw_config_tag_deadband(self._p(), v)
        return DeadbandMode(k), v[0]

    @property
    def scaling(self) -> Optional[Scaling]:
        a, b, c, d = (ffi.new("double *") for _ in range(4))
        if not lib.tw_config_tag_scaling(self._p(), a, b, c, d):
            return None
        return Scaling(a[0], b[0], c[0], d[0])

    @property
    def min(self) -> Optional[float]:
        v = ffi.new("double *")
        return v[0] if lib.tw_config_tag_min(self._p(), v) else None

    @property
    def max(self) -> Optional[float]:
        v = ffi.new("double *")
        return v[0] if lib.tw_config_tag_max(self._p(), v) else None

    def __repr__(self) -> str:
        return "<tagwire.ConfigTag %r %s>" % (self.name, self.address)
