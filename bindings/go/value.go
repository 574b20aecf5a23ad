package tagwire

/*
#include "twgo.h"
*/
import "C"

import (
	"fmt"
	"math"
	"time"
	"unsafe"
)

// Type is a tagwire value type (tw_type).
type Type int

const (
	TypeNone     Type = C.TW_TYPE_NONE
	TypeBool     Type = C.TW_TYPE_BOOL
	TypeInt8     Type = C.TW_TYPE_INT8
	TypeInt16    Type = C.TW_TYPE_INT16
	TypeInt32    Type = C.TW_TYPE_INT32
	TypeInt64    Type = C.TW_TYPE_INT64
	TypeUint8    Type = C.TW_TYPE_UINT8
	TypeUint16   Type = C.TW_TYPE_UINT16
	TypeUint32   Type = C.TW_TYPE_UINT32
	TypeUint64   Type = C.TW_TYPE_UINT64
	TypeFloat    Type = C.TW_TYPE_FLOAT
	TypeDouble   Type = C.TW_TYPE_DOUBLE
	TypeString   Type = C.TW_TYPE_STRING
	TypeBytes    Type = C.TW_TYPE_BYTES
	TypeDatetime Type = C.TW_TYPE_DATETIME
)

func (t Type) String() string {
	if p := C.tw_type_name(C.tw_type(t)); p != nil {
		return C.GoString(p)
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// ParseType parses "double", "float64", "uint", ... (TypeNone, false when unknown).
func ParseType(name string) (Type, bool) {
	c := C.CString(name)
	defer C.free(unsafe.Pointer(c))
	t := Type(C.tw_type_from_name(c))
	return t, t != TypeNone
}

// Quality is an OPC UA StatusCode-compatible quality.
type Quality uint32

const (
	QualityGood                 Quality = C.TW_QUALITY_GOOD
	QualityUncertain            Quality = C.TW_QUALITY_UNCERTAIN
	QualityUncertainLastKnown   Quality = C.TW_QUALITY_UNCERTAIN_LAST_KNOWN
	QualityBad                  Quality = C.TW_QUALITY_BAD
	QualityBadCommFailure       Quality = C.TW_QUALITY_BAD_COMM_FAILURE
	QualityBadWaitingForInitial Quality = C.TW_QUALITY_BAD_WAITING_FOR_INITIAL
	QualityBadNotConnected      Quality = C.TW_QUALITY_BAD_NOT_CONNECTED
)

func (q Quality) String() string { return C.GoString(C.tw_quality_name(C.tw_quality(q))) }
func (q Quality) IsGood() bool   { return uint32(q)>>30 == 0 }
func (q Quality) IsBad() bool    { return uint32(q)>>30 >= 2 }

// Sparkplug returns the Sparkplug B quality property value (192, 500 or 0).
func (q Quality) Sparkplug() int32 { return int32(C.tw_quality_to_sparkplug(C.tw_quality(q))) }

// QualityFromSparkplug maps a Sparkplug quality property value back.
func QualityFromSparkplug(v int32) Quality { return Quality(C.tw_quality_from_sparkplug(C.int32_t(v))) }

// valueToGo converts a tw_value: bool, int64, uint64, float32, float64, string, []byte,
// time.Time (DATETIME) or nil.
func valueToGo(v *C.tw_value) any {
	switch Type(v._type) {
	case TypeBool:
		return C.twgo_value_b(v) != 0
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		return int64(C.twgo_value_i(v))
	case TypeDatetime:
		return time.Unix(0, int64(C.twgo_value_i(v))).UTC()
	case TypeUint8, TypeUint16, TypeUint32, TypeUint64:
		return uint64(C.twgo_value_u(v))
	case TypeFloat:
		return float32(C.twgo_value_f(v))
	case TypeDouble:
		return float64(C.twgo_value_d(v))
	case TypeString, TypeBytes:
		n := int(C.twgo_value_len(v))
		var b []byte
		if n > 0 {
			b = C.GoBytes(C.twgo_value_ptr(v), C.int(n))
		} else {
			b = []byte{}
		}
		if Type(v._type) == TypeString {
			return string(b)
		}
		return b
	}
	return nil
}

// valueFromGo fills out from a Go value; the returned function frees C copies of buffers.
func valueFromGo(x any, out *C.tw_value) (func(), error) {
	nop := func() {}
	switch v := x.(type) {
	case bool:
		b := 0
		if v {
			b = 1
		}
		C.twgo_set_b(out, C.int(b))
	case int:
		C.twgo_set_i(out, C.int64_t(v))
	case int8:
		C.twgo_set_i(out, C.int64_t(v))
	case int16:
		C.twgo_set_i(out, C.int64_t(v))
	case int32:
		C.twgo_set_i(out, C.int64_t(v))
	case int64:
		C.twgo_set_i(out, C.int64_t(v))
	case uint:
		C.twgo_set_u(out, C.uint64_t(v))
	case uint8:
		C.twgo_set_u(out, C.uint64_t(v))
	case uint16:
		C.twgo_set_u(out, C.uint64_t(v))
	case uint32:
		C.twgo_set_u(out, C.uint64_t(v))
	case uint64:
		C.twgo_set_u(out, C.uint64_t(v))
	case float32:
		C.twgo_set_f(out, C.float(v))
	case float64:
		C.twgo_set_d(out, C.double(v))
	case time.Time:
		C.twgo_set_dt(out, C.int64_t(v.UnixNano()))
	case string:
		p := C.CBytes([]byte(v))
		C.twgo_set_buf(out, C.TW_TYPE_STRING, p, C.size_t(len(v)))
		return func() { C.free(p) }, nil
	case []byte:
		p := C.CBytes(v)
		C.twgo_set_buf(out, C.TW_TYPE_BYTES, p, C.size_t(len(v)))
		return func() { C.free(p) }, nil
	default:
		return nop, fmt.Errorf("tagwire: cannot pass a %T as a value", x)
	}
	return nop, nil
}

// Convert applies tagwire's conversion rules (tw_value_convert) to x.
func Convert(x any, to Type) (any, error) {
	v := (*C.tw_value)(C.calloc(1, C.sizeof_tw_value))
	defer C.free(unsafe.Pointer(v))
	free, err := valueFromGo(x, v)
	if err != nil {
		return nil, err
	}
	defer free()
	if err := errOf(C.tw_value_convert(v, v, C.tw_type(to))); err != nil {
		return nil, err
	}
	return valueToGo(v), nil
}

// ValuesEqual is tagwire's value equality (same type and value; NaN equals NaN).
func ValuesEqual(a, b any) (bool, error) {
	va := (*C.tw_value)(C.calloc(2, C.sizeof_tw_value))
	defer C.free(unsafe.Pointer(va))
	vb := (*C.tw_value)(unsafe.Add(unsafe.Pointer(va), C.sizeof_tw_value))
	fa, err := valueFromGo(a, va)
	if err != nil {
		return false, err
	}
	defer fa()
	fb, err := valueFromGo(b, vb)
	if err != nil {
		return false, err
	}
	defer fb()
	return C.tw_value_equal(va, vb) != 0, nil
}

// UTF8Valid reports whether b is well-formed UTF-8 by tagwire's rules.
func UTF8Valid(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	return C.tw_utf8_valid(unsafe.Pointer(&b[0]), C.size_t(len(b))) != 0
}

var _ = math.NaN
