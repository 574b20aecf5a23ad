package tagwire

/*
#include "twgo.h"
*/
import "C"

import (
	"context"
	"runtime/cgo"
	"time"
	"unsafe"
)

// OPCUARef is a child found by BrowseOPCUA; NodeID is usable as an item address.
type OPCUARef struct {
	NodeID, BrowseName, DisplayName, NodeClass, DataType string
}

//export twgoBrowse
func twgoBrowse(r *C.tw_opcua_ref, h C.uintptr_t) {
	refs := cgo.Handle(h).Value().(*[]OPCUARef)
	*refs = append(*refs, OPCUARef{NodeID: C.GoString(r.node_id), BrowseName: C.GoString(r.browse_name),
		DisplayName: C.GoString(r.display_name), NodeClass: C.GoString(r.node_class), DataType: C.GoString(r.data_type)})
}

// BrowseOPCUA lists the children of nodeID ("" = the Objects folder) on the server of an opcua://
// URI. The deadline of ctx (if any) bounds each request.
func BrowseOPCUA(ctx context.Context, uri, nodeID string) ([]OPCUARef, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var timeout uint32
	if d, ok := ctx.Deadline(); ok {
		timeout = uint32(time.Until(d).Milliseconds()) + 1
	}
	var refs []OPCUARef
	h := cgo.NewHandle(&refs)
	defer h.Delete()
	cu, cn := C.CString(uri), cstr(nodeID)
	defer C.free(unsafe.Pointer(cu))
	defer cfree(cn)
	err := newCall(func() C.tw_status { return C.twgo_opcua_browse(cu, cn, C.uint32_t(timeout), C.uintptr_t(h)) })
	return refs, err
}
