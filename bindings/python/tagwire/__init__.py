"""tagwire: Python bindings of the tagwire C SDK (factory data connectivity).

The package loads the shared library (``$TAGWIRE_LIBRARY`` or ``libtagwire.so.0``) through cffi
in ABI mode with declarations generated from the C headers, and takes one library reference
(tw_init) at import. Errors raise subclasses of :class:`tagwire.Error` carrying the C status code,
its name and message.

    import tagwire
    with tagwire.TagSet() as ts:
        t = ts.add("Hydraulics/OilTemp", "double", unit="degC", deadband=0.2)
        t.set(41.5)
        print(ts.collect())
"""
from ._ffi import ffi, lib
from .errors import (AdapterError, Closed, ConfigError, EnrollError, Error, Exists, HttpsError,
                     InvalidArgument, ModbusError, MqttError, NodeError, NotFound, NotInitialized,
                     OutOfMemory, ParseError, RangeError, SparkplugError, StoreError, Timeout,
                     TlsError, TypeMismatch, error_class)
from .core import (HEADER_VERSION, Library, LogLevel, Quality, Type, convert, features,
                   has_feature, init, is_initialized, last_error, last_error_clear,
                   last_error_status, log_level_name, now_ns, quality_from_sparkplug,
                   quality_is_bad, quality_is_good, quality_name, quality_to_sparkplug, set_log,
                   shutdown, type_name, utf8_valid, values_equal, version, version_string)
from .tags import Access, Change, DeadbandMode, Sample, Tag, TagSet, validate_name
from .config import Config, ConfigDevice, ConfigTag
from .adapter import (Adapter, AdapterRegistration, Device, DeviceStats, ItemInfo, Poller,
                      PollGroupStats, Uri, adapters, check_address, register_adapter,
                      unregister_adapter)
from . import opcua, sparkplug
from .enroll import (CredentialInfo, Identity, Enrollment, EnrollEvent, inspect_credentials,
                     renew_time, status_retriable)
from .transport import TlsConfig, TlsInfo, Transport
from .mqtt import MqttClient
from .store import Record, Store, StoreStats, crc32c
from .edge import Edge, EdgeEvent, EdgeState, EdgeStats
from .node import Link, Node, NodeDevice, NodeStats, PollMode
from . import https
from .https import HttpsStats, HttpsUplink

if version()[0] != HEADER_VERSION[0]:
    raise ImportError("tagwire: the loaded library is version %s, these bindings were generated "
                      "for major version %d" % (version_string(), HEADER_VERSION[0]))

init()  # one reference for the package's lifetime (objects need an initialised library)

__version__ = "0.1.0"

__all__ = [n for n in dir() if not n.startswith("_")]
