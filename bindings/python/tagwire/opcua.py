"""OPC UA helpers beyond the adapter (tagwire/opcua.h). The adapter itself is used through
Device("opcua://host:4840/path?...")."""
from __future__ import annotations

from typing import List, NamedTuple, Optional

from ._ffi import cstr, ffi, lib, reraise, store_exception, string
from .errors import check_new


class Ref(NamedTuple):
    """A child found by browse(): its NodeId is usable as an item address."""
    node_id: str
    browse_name: str
    display_name: str
    node_class: str
    data_type: str


def browse(uri: str, node_id: Optional[str] = None, timeout_ms: int = 0) -> List[Ref]:
    """Lists the children of node_id (None: the Objects folder) on the server of an opcua:// URI."""
    out: List[Ref] = []

    @ffi.callback("void(const tw_opcua_ref *, void *)")
    def _cb(r, _ud):
        try:
            out.append(Ref(string(r.node_id), string(r.browse_name), string(r.display_name),
                           string(r.node_class), string(r.data_type)))
        except BaseException as e:
            store_exception(e)

    keep: list = []
    st = lib.tw_opcua_browse(uri.encode(), cstr(node_id, keep), timeout_ms, _cb, ffi.NULL)
    reraise()
    check_new(st)
    return out
