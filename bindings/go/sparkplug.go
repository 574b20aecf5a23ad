package tagwire

/*
#include "twgo.h"
*/
import "C"

import (
	"unsafe"
)

// SparkplugMetric is a metric to encode, or one decoded.
type SparkplugMetric struct {
	Name        string
	Alias       uint64
	TsMs        int64
	Value       any
	Type        Type // decoded: the value's type; encode: converts Value to it when set
	Quality     Quality
	Flags       uint32
	Unit        string
	Description string
	Datatype    uint32 // decoded: as sent
}

// SparkplugPayload is a decoded Sparkplug B payload.
type SparkplugPayload struct {
	TimestampMs uint64
	Seq         uint64
	HasSeq      bool
	UUID        string
	Metrics     []SparkplugMetric
	JSON        string
}

// DecodeSparkplug decodes a payload (ErrSparkplugDecode with the reason for malformed input).
func DecodeSparkplug(data []byte) (*SparkplugPayload, error) {
	var p *C.tw_sp_payload
	var why [256]C.char
	var ptr unsafe.Pointer
	if len(data) > 0 {
		ptr = C.CBytes(data)
		defer C.free(ptr)
	}
	if st := C.tw_sp_payload_decode(&p, ptr, C.size_t(len(data)), &why[0], 256); st != C.TW_OK {
		return nil, newErr(st, C.GoString(&why[0]))
	}
	defer C.tw_sp_payload_free(p)
	out := &SparkplugPayload{TimestampMs: uint64(p.timestamp_ms), Seq: uint64(p.seq),
		HasSeq: p.present&C.TW_SP_HAS_SEQ != 0}
	if p.uuid != nil {
		out.UUID = C.GoString(p.uuid)
	}
	for _, dm := range unsafe.Slice(p.metrics, int(p.metric_count)) {
		m := &dm.metric
		sm := SparkplugMetric{Alias: uint64(m.alias), TsMs: int64(m.ts_ms), Value: valueToGo(&m.value),
			Type: Type(m.value._type), Quality: Quality(m.quality), Flags: uint32(m.flags), Datatype: uint32(dm.datatype)}
		if m.name != nil {
			sm.Name = C.GoString(m.name)
		}
		if m.unit != nil {
			sm.Unit = C.GoString(m.unit)
		}
		if m.description != nil {
			sm.Description = C.GoString(m.description)
		}
		out.Metrics = append(out.Metrics, sm)
	}
	var s *C.char
	var n C.size_t
	if err := errOf(C.tw_sp_payload_format(&s, &n, p, C.TW_SP_FORMAT_JSON)); err != nil {
		return nil, err
	}
	out.JSON = C.GoStringN(s, C.int(n))
	C.tw_free(unsafe.Pointer(s))
	return out, nil
}

func encodeSparkplug(birth bool, metrics []SparkplugMetric, seq uint64, tsMs int64) ([]byte, error) {
	n := len(metrics)
	arr := (*C.tw_sp_metric)(C.calloc(C.size_t(n+1), C.sizeof_tw_sp_metric))
	defer C.free(unsafe.Pointer(arr))
	cm := unsafe.Slice(arr, n+1)
	var frees []func()
	defer func() {
		for _, f := range frees {
			f()
		}
	}()
	for i, m := range metrics {
		c := &cm[i]
		c.name, c.unit, c.description = cstr(m.Name), cstr(m.Unit), cstr(m.Description)
		frees = append(frees, func() { cfree(c.name); cfree(c.unit); cfree(c.description) })
		c.alias, c.ts_ms, c.quality, c.flags = C.uint64_t(m.Alias), C.int64_t(m.TsMs), C.tw_quality(m.Quality), C.uint32_t(m.Flags)
		f, err := valueFromGo(m.Value, &c.value)
		if err != nil {
			return nil, err
		}
		frees = append(frees, f)
		if m.Type != TypeNone && Type(c.value._type) != m.Type {
			if err := errOf(C.tw_value_convert(&c.value, &c.value, C.tw_type(m.Type))); err != nil {
				return nil, err
			}
		}
	}
	enc := func(buf *C.uint8_t, cap C.size_t, out *C.size_t) C.tw_status {
		if birth {
			return C.tw_sp_encode_birth(buf, cap, out, C.int64_t(tsMs), C.uint64_t(seq), arr, C.size_t(n))
		}
		return C.tw_sp_encode_data(buf, cap, out, C.int64_t(tsMs), C.uint64_t(seq), arr, C.size_t(n))
	}
	var need C.size_t
	if st := enc(nil, 0, &need); st != C.TW_ERR_FULL && st != C.TW_OK {
		return nil, errOf(st)
	}
	buf := (*C.uint8_t)(C.malloc(need + 1))
	defer C.free(unsafe.Pointer(buf))
	if err := errOf(enc(buf, need, &need)); err != nil {
		return nil, err
	}
	return C.GoBytes(unsafe.Pointer(buf), C.int(need)), nil
}

// EncodeSparkplugData encodes an NDATA/DDATA (or NCMD/DCMD) payload.
func EncodeSparkplugData(metrics []SparkplugMetric, seq uint64, tsMs int64) ([]byte, error) {
	return encodeSparkplug(false, metrics, seq, tsMs)
}

// EncodeSparkplugBirth encodes an NBIRTH/DBIRTH payload.
func EncodeSparkplugBirth(metrics []SparkplugMetric, seq uint64, tsMs int64) ([]byte, error) {
	return encodeSparkplug(true, metrics, seq, tsMs)
}

// Sparkplug message types.
const (
	SpNBIRTH = C.TW_SP_MSG_NBIRTH
	SpNDEATH = C.TW_SP_MSG_NDEATH
	SpDBIRTH = C.TW_SP_MSG_DBIRTH
	SpDDEATH = C.TW_SP_MSG_DDEATH
	SpNDATA  = C.TW_SP_MSG_NDATA
	SpDDATA  = C.TW_SP_MSG_DDATA
	SpNCMD   = C.TW_SP_MSG_NCMD
	SpDCMD   = C.TW_SP_MSG_DCMD
	SpSTATE  = C.TW_SP_MSG_STATE
)

// SparkplugTopic builds spBv1.0/group/TYPE/node[/device].
func SparkplugTopic(msgType int, group, node, device string) (string, error) {
	cg, cn, cd := cstr(group), cstr(node), cstr(device)
	defer cfree(cg)
	defer cfree(cn)
	defer cfree(cd)
	var buf [1024]C.char
	if err := errOf(C.tw_sp_topic_build(&buf[0], 1024, nil, C.tw_sp_msg_type(msgType), cg, cn, cd)); err != nil {
		return "", err
	}
	return C.GoString(&buf[0]), nil
}

// SparkplugDefaultClientID is the MQTT client id an edge node uses when none is given
// (tw_sp_default_client_id): at most 23 bytes, "<group>-<node>" or a stable shortened form.
func SparkplugDefaultClientID(group, node string) (string, error) {
	cg, cn := cstr(group), cstr(node)
	defer cfree(cg)
	defer cfree(cn)
	var buf [C.TW_SP_CLIENT_ID_MAX + 1]C.char
	if err := errOf(C.tw_sp_default_client_id(&buf[0], C.size_t(len(buf)), cg, cn)); err != nil {
		return "", err
	}
	return C.GoString(&buf[0]), nil
}

// ParseSparkplugTopic splits a Sparkplug topic.
func ParseSparkplugTopic(topic string) (msgType int, group, node, device string, err error) {
	ct := C.CString(topic)
	defer C.free(unsafe.Pointer(ct))
	t := (*C.tw_sp_topic)(C.calloc(1, C.sizeof_tw_sp_topic))
	defer C.free(unsafe.Pointer(t))
	if err = errOf(C.tw_sp_topic_parse(t, ct, C.size_t(len(topic)))); err != nil {
		return
	}
	part := func(p *C.char, n C.size_t) string {
		if n == 0 {
			return ""
		}
		return C.GoStringN(p, C.int(n))
	}
	return int(t._type), part(t.group_id, t.group_id_len), part(t.edge_node_id, t.edge_node_id_len),
		part(t.device_id, t.device_id_len), nil
}
