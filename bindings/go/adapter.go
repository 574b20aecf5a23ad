package tagwire

/*
#include "twgo.h"
*/
import "C"

import (
	"context"
	"errors"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"unsafe"
)

// DeviceOptions are the timeouts of a device (0 = the adapter's defaults).
type DeviceOptions struct {
	TimeoutMs, ConnectTimeoutMs, ReconnectMinMs, ReconnectMaxMs uint32
}

// Device is one connection to a device, opened by URI ("modbus+tcp://host:502?unit=1", "sim://",
// or a scheme registered with RegisterAdapter). It connects lazily.
type Device struct {
	p       *C.tw_device
	ids     *C.uint32_t
	samples *C.tw_sample
	cap     int
	reg     *registration
}

// OpenDevice opens a device; opts may be nil.
func OpenDevice(uri string, opts *DeviceOptions) (*Device, error) {
	o := (*C.tw_device_options)(C.calloc(1, C.sizeof_tw_device_options))
	defer C.free(unsafe.Pointer(o))
	o.version = C.TW_DEVICE_OPTIONS_VERSION
	if opts != nil {
		o.timeout_ms, o.connect_timeout_ms = C.uint32_t(opts.TimeoutMs), C.uint32_t(opts.ConnectTimeoutMs)
		o.reconnect_min_ms, o.reconnect_max_ms = C.uint32_t(opts.ReconnectMinMs), C.uint32_t(opts.ReconnectMaxMs)
	}
	cu := C.CString(uri)
	defer C.free(unsafe.Pointer(cu))
	var p *C.tw_device
	if err := newCall(func() C.tw_status { return C.tw_device_open(&p, cu, o) }); err != nil {
		return nil, err
	}
	d := &Device{p: p}
	d.grow(64)
	if i := strings.Index(uri, "://"); i > 0 {
		regMu.Lock()
		d.reg = registrations[strings.ToLower(uri[:i])]
		regMu.Unlock()
	}
	runtime.SetFinalizer(d, (*Device).Close)
	return d, nil
}

func (d *Device) grow(n int) {
	if d.ids != nil {
		C.free(unsafe.Pointer(d.ids))
		C.free(unsafe.Pointer(d.samples))
	}
	d.ids = (*C.uint32_t)(C.calloc(C.size_t(n), 4))
	d.samples = (*C.tw_sample)(C.calloc(C.size_t(n), C.sizeof_tw_sample))
	d.cap = n
}

// Close closes the connection and frees the device.
func (d *Device) Close() error {
	if d.p == nil {
		return nil
	}
	C.tw_device_free(d.p)
	d.p = nil
	C.free(unsafe.Pointer(d.ids))
	C.free(unsafe.Pointer(d.samples))
	d.ids, d.samples = nil, nil
	runtime.SetFinalizer(d, nil)
	return nil
}

func (d *Device) fail(st C.tw_status) error {
	if st == C.TW_OK {
		return nil
	}
	if d.reg != nil {
		if pv := d.reg.takePanic(); pv != nil {
			panic(pv)
		}
	}
	return newErr(st, C.GoString(C.tw_device_last_error(d.p)))
}

// LastError is the device's last error message.
func (d *Device) LastError() string {
	defer runtime.KeepAlive(d)
	return C.GoString(C.tw_device_last_error(d.p))
}

// Scheme is the URI scheme of the device's adapter.
func (d *Device) Scheme() string {
	defer runtime.KeepAlive(d)
	return C.GoString(C.tw_device_scheme(d.p))
}

// AddItem adds an item by address and returns its id.
func (d *Device) AddItem(address string) (uint32, error) {
	if d.p == nil {
		return 0, ErrClosed
	}
	ca := C.CString(address)
	defer C.free(unsafe.Pointer(ca))
	var id C.uint32_t
	err := d.fail(C.tw_device_add_item(d.p, &id, ca))
	runtime.KeepAlive(d)
	return uint32(id), err
}

// ItemCount is the number of items.
func (d *Device) ItemCount() int {
	defer runtime.KeepAlive(d)
	return int(C.tw_device_item_count(d.p))
}

// ItemType is the value type an item delivers.
func (d *Device) ItemType(id uint32) Type {
	defer runtime.KeepAlive(d)
	return Type(C.tw_device_item_type(d.p, C.uint32_t(id)))
}

// Read reads items (blocking, bounded by the device's timeouts). Every sample is filled in even
// when an error is returned (failed items carry a bad quality). ctx is checked before the call.
func (d *Device) Read(ctx context.Context, ids ...uint32) ([]Sample, error) {
	if d.p == nil {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(ids) > d.cap {
		d.grow(len(ids))
	}
	cids := unsafe.Slice(d.ids, d.cap)
	for i, id := range ids {
		cids[i] = C.uint32_t(id)
	}
	st := C.tw_device_read(d.p, d.ids, C.size_t(len(ids)), d.samples)
	ss := unsafe.Slice(d.samples, d.cap)
	out := make([]Sample, len(ids))
	for i := range ids {
		out[i] = Sample{Value: valueToGo(&ss[i].value), Quality: Quality(ss[i].quality), TsNs: int64(ss[i].timestamp_ns)}
	}
	err := d.fail(st)
	runtime.KeepAlive(d)
	return out, err
}

// Write writes one item and waits for the confirmation. Integer and float values are converted to
// the item's type first (an error if they do not fit).
func (d *Device) Write(ctx context.Context, id uint32, value any) error {
	if d.p == nil {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cv := (*C.tw_value)(C.calloc(1, C.sizeof_tw_value))
	defer C.free(unsafe.Pointer(cv))
	free, err := valueFromGo(value, cv)
	if err != nil {
		return err
	}
	defer free()
	it := C.tw_device_item_type(d.p, C.uint32_t(id))
	if C.tw_type_is_numeric(cv._type) != 0 && C.tw_type_is_numeric(it) != 0 && cv._type != it {
		if err := errOf(C.tw_value_convert(cv, cv, it)); err != nil {
			return err
		}
	}
	err = d.fail(C.tw_device_write(d.p, C.uint32_t(id), cv))
	runtime.KeepAlive(d)
	return err
}

// DeviceStats are a connection's counters.
type DeviceStats struct {
	Connected                                              bool
	Requests, Responses, Exceptions, Timeouts              uint64
	ProtocolErrors, Connects, ConnectFailures, Disconnects uint64
	Reads, ItemsRead, ItemsBad, Writes, WritesFailed       uint64
	MeanRttNs                                              int64
}

// Stats returns the connection's counters.
func (d *Device) Stats() (DeviceStats, error) {
	s := (*C.tw_device_stats)(C.calloc(1, C.sizeof_tw_device_stats))
	defer C.free(unsafe.Pointer(s))
	s.version = C.TW_DEVICE_STATS_VERSION
	if err := errOf(C.tw_device_stats_get(d.p, s)); err != nil {
		return DeviceStats{}, err
	}
	runtime.KeepAlive(d)
	return DeviceStats{Connected: s.connected != 0, Requests: uint64(s.requests), Responses: uint64(s.responses),
		Exceptions: uint64(s.exceptions), Timeouts: uint64(s.timeouts), ProtocolErrors: uint64(s.protocol_errors),
		Connects: uint64(s.connects), ConnectFailures: uint64(s.connect_failures), Disconnects: uint64(s.disconnects),
		Reads: uint64(s.reads), ItemsRead: uint64(s.items_read), ItemsBad: uint64(s.items_bad),
		Writes: uint64(s.writes), WritesFailed: uint64(s.writes_failed), MeanRttNs: int64(s.mean_rtt_ns)}, nil
}

// CheckAddress validates an address for an adapter without a device and returns its type.
func CheckAddress(schemeOrURI, address string) (Type, error) {
	cs, ca := C.CString(schemeOrURI), C.CString(address)
	defer C.free(unsafe.Pointer(cs))
	defer C.free(unsafe.Pointer(ca))
	var t C.tw_type
	var errbuf [512]C.char
	st := C.tw_adapter_check_address(cs, ca, &t, &errbuf[0], 512)
	return Type(t), newErr(st, C.GoString(&errbuf[0]))
}

// Adapters lists the registered URI schemes.
func Adapters() []string {
	var buf [4096]C.char
	if C.tw_adapter_list(&buf[0], 4096) == 0 {
		return nil
	}
	return strings.Split(C.GoString(&buf[0]), ",")
}

// ---- poller ------------------------------------------------------------------------------------

// PollFunc receives one cycle of a poll group.
type PollFunc func(group uint32, ids []uint32, samples []Sample)

// Poller runs groups of device items at fixed rates on the calling goroutine.
type Poller struct {
	p       *C.tw_poller
	handles []cgo.Handle
	devices []*Device
	panicV  any
}

type pollState struct {
	p  *Poller
	fn PollFunc
}

// NewPoller creates an empty poller.
func NewPoller() (*Poller, error) {
	var p *C.tw_poller
	if err := newCall(func() C.tw_status { return C.tw_poller_new(&p) }); err != nil {
		return nil, err
	}
	pl := &Poller{p: p}
	runtime.SetFinalizer(pl, (*Poller).Close)
	return pl, nil
}

// Close frees the poller (not the devices).
func (pl *Poller) Close() error {
	if pl.p == nil {
		return nil
	}
	C.tw_poller_free(pl.p)
	pl.p = nil
	for _, h := range pl.handles {
		h.Delete()
	}
	pl.handles = nil
	runtime.SetFinalizer(pl, nil)
	return nil
}

// AddGroup adds a group of items read every rateMs; fn runs once per cycle inside Step/Run.
func (pl *Poller) AddGroup(dev *Device, rateMs uint32, ids []uint32, fn PollFunc) (uint32, error) {
	cids := (*C.uint32_t)(C.calloc(C.size_t(len(ids)+1), 4))
	defer C.free(unsafe.Pointer(cids))
	s := unsafe.Slice(cids, len(ids)+1)
	for i, id := range ids {
		s[i] = C.uint32_t(id)
	}
	h := cgo.NewHandle(&pollState{p: pl, fn: fn})
	var g C.uint32_t
	if err := errOf(C.twgo_poller_add_group(pl.p, &g, dev.p, C.uint32_t(rateMs), cids, C.size_t(len(ids)), C.uintptr_t(h))); err != nil {
		h.Delete()
		return 0, err
	}
	pl.handles = append(pl.handles, h)
	pl.devices = append(pl.devices, dev)
	runtime.KeepAlive(pl)
	return uint32(g), nil
}

//export twgoPoll
func twgoPoll(group C.uint32_t, ids *C.uint32_t, samples *C.tw_sample, n C.size_t, h C.uintptr_t) {
	st := cgo.Handle(h).Value().(*pollState)
	defer func() {
		if r := recover(); r != nil {
			st.p.panicV = r
		}
	}()
	cid := unsafe.Slice(ids, int(n))
	cs := unsafe.Slice(samples, int(n))
	gids := make([]uint32, n)
	out := make([]Sample, n)
	for i := range out {
		gids[i] = uint32(cid[i])
		out[i] = Sample{Value: valueToGo(&cs[i].value), Quality: Quality(cs[i].quality), TsNs: int64(cs[i].timestamp_ns)}
	}
	st.fn(uint32(group), gids, out)
}

// Step runs the due groups, waiting up to maxWaitMs for one; false when none was due.
func (pl *Poller) Step(maxWaitMs int) (bool, error) {
	st := C.tw_poller_step(pl.p, C.int(maxWaitMs))
	runtime.KeepAlive(pl)
	if pv := pl.panicV; pv != nil {
		pl.panicV = nil
		panic(pv)
	}
	if st == C.TW_ERR_TIMEOUT {
		return false, nil
	}
	return st == C.TW_OK, errOf(st)
}

// Run steps the poller until ctx is done (returning ctx.Err()).
func (pl *Poller) Run(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := pl.Step(50); err != nil {
			return err
		}
	}
}

// GroupCycles returns how many cycles a group has run and skipped.
func (pl *Poller) GroupCycles(group uint32) (cycles, skipped uint64, err error) {
	s := (*C.tw_poll_group_stats)(C.calloc(1, C.sizeof_tw_poll_group_stats))
	defer C.free(unsafe.Pointer(s))
	s.version = C.TW_POLL_GROUP_STATS_VERSION
	err = errOf(C.tw_poller_group_stats_get(pl.p, C.uint32_t(group), s))
	runtime.KeepAlive(pl)
	return uint64(s.cycles), uint64(s.skipped), err
}

// NextDueMs is the time until the next group is due (-1 without groups).
func (pl *Poller) NextDueMs() int64 {
	defer runtime.KeepAlive(pl)
	return int64(C.tw_poller_next_due_ms(pl.p))
}

// ---- adapters implemented in Go ------------------------------------------------------------------

// ItemInfo describes a parsed address.
type ItemInfo struct {
	Item     any
	Type     Type
	MaxBytes int
	Writable bool
}

// URI is a parsed device URI.
type URI struct {
	URI, Scheme, Host, Path string
	Port                    uint16
	Params                  map[string]string
}

// Adapter is a protocol adapter implemented in Go (see tagwire/sys/adapter.h). Returning an
// *Error reports its code and message; other errors are reported as ErrAdapter. A panic is
// recovered in the callback and re-panicked by the Device method that called into C.
type Adapter interface {
	ParseAddress(address string) (ItemInfo, error)
	Open(uri URI) (conn any, err error)
	Close(conn any)
	Read(conn any, items []any) ([]Sample, error)
	Write(conn any, item any, value any) error
}

type registration struct {
	scheme string
	a      Adapter
	ops    *C.tw_adapter_ops
	self   cgo.Handle
	mu     sync.Mutex
	panicV any
}

func (r *registration) takePanic() any {
	r.mu.Lock()
	defer r.mu.Unlock()
	pv := r.panicV
	r.panicV = nil
	return pv
}

func (r *registration) guard(st *C.tw_status, err *C.char, n C.size_t) {
	if p := recover(); p != nil {
		r.mu.Lock()
		r.panicV = p
		r.mu.Unlock()
		if st != nil {
			*st = C.TW_ERR_ADAPTER
			writeErr(errors.New("adapter panicked"), err, n)
		}
	}
}

type connState struct {
	r    *registration
	conn any
}

var (
	regMu         sync.Mutex
	registrations = map[string]*registration{}
)

// RegisterAdapter registers a Go adapter under a URI scheme. Unregister with UnregisterAdapter.
func RegisterAdapter(scheme, summary string, a Adapter) error {
	cs, csum := C.CString(scheme), C.CString(summary)
	defer C.free(unsafe.Pointer(cs))
	defer C.free(unsafe.Pointer(csum))
	r := &registration{scheme: scheme, a: a, ops: C.twgo_adapter_ops_new(cs, csum)}
	r.self = cgo.NewHandle(r)
	if err := errOf(C.twgo_adapter_register(r.ops, C.uintptr_t(r.self))); err != nil {
		r.self.Delete()
		return err
	}
	regMu.Lock()
	registrations[scheme] = r
	regMu.Unlock()
	return nil
}

// UnregisterAdapter removes a registration (devices already open keep working).
func UnregisterAdapter(scheme string) error {
	cs := C.CString(scheme)
	defer C.free(unsafe.Pointer(cs))
	if err := errOf(C.tw_adapter_unregister(cs)); err != nil {
		return err
	}
	regMu.Lock()
	delete(registrations, scheme) // the handle and ops stay valid for devices still open
	regMu.Unlock()
	return nil
}

func regOf(h C.uintptr_t) *registration { return cgo.Handle(h).Value().(*registration) }

//export twgoAdapterParse
func twgoAdapterParse(h C.uintptr_t, address *C.char, item *C.uintptr_t, info *C.tw_adapter_item_info, errb *C.char, n C.size_t) (st C.tw_status) {
	r := regOf(h)
	defer r.guard(&st, errb, n)
	ii, err := r.a.ParseAddress(C.GoString(address))
	if err != nil {
		writeErr(err, errb, n)
		if e, ok := err.(*Error); ok {
			return C.tw_status(e.Code)
		}
		return C.TW_ERR_ADDRESS
	}
	info._type = C.tw_type(ii.Type)
	info.max_bytes = C.size_t(ii.MaxBytes)
	info.writable = 0
	if ii.Writable {
		info.writable = 1
	}
	if item != nil {
		*item = C.uintptr_t(cgo.NewHandle(ii.Item))
	}
	return C.TW_OK
}

//export twgoAdapterOpen
func twgoAdapterOpen(h C.uintptr_t, ctx *C.uintptr_t, uri *C.tw_adapter_uri, errb *C.char, n C.size_t) (st C.tw_status) {
	r := regOf(h)
	defer r.guard(&st, errb, n)
	u := URI{URI: C.GoString(uri.uri), Scheme: C.GoString(uri.scheme), Host: C.GoString(uri.host),
		Path: C.GoString(uri.path), Port: uint16(uri.port), Params: map[string]string{}}
	keys := unsafe.Slice(uri.keys, int(uri.nparams))
	for _, k := range keys {
		u.Params[C.GoString(k)] = C.GoString(C.tw_adapter_uri_param(uri, k))
	}
	conn, err := r.a.Open(u)
	if err != nil {
		writeErr(err, errb, n)
		if e, ok := err.(*Error); ok {
			return C.tw_status(e.Code)
		}
		return C.TW_ERR_ADAPTER
	}
	*ctx = C.uintptr_t(cgo.NewHandle(&connState{r: r, conn: conn}))
	return C.TW_OK
}

//export twgoAdapterClose
func twgoAdapterClose(ctx C.uintptr_t) {
	cs := cgo.Handle(ctx).Value().(*connState)
	defer cs.r.guard(nil, nil, 0)
	defer cgo.Handle(ctx).Delete()
	cs.r.a.Close(cs.conn)
}

//export twgoAdapterRead
func twgoAdapterRead(ctx C.uintptr_t, items *unsafe.Pointer, n C.size_t, res *C.tw_adapter_result, errb *C.char, errlen C.size_t) (st C.tw_status) {
	cs := cgo.Handle(ctx).Value().(*connState)
	defer cs.r.guard(&st, errb, errlen)
	ih := unsafe.Slice(items, int(n))
	objs := make([]any, n)
	for i, p := range ih {
		objs[i] = cgo.Handle(uintptr(p)).Value()
	}
	samples, err := cs.r.a.Read(cs.conn, objs)
	if err == nil && len(samples) != int(n) {
		err = NewError(Status(C.TW_ERR_ADAPTER), "Read returned the wrong number of samples")
	}
	if err != nil {
		writeErr(err, errb, errlen)
		if e, ok := err.(*Error); ok {
			return C.tw_status(e.Code)
		}
		return C.TW_ERR_ADAPTER
	}
	rs := unsafe.Slice(res, int(n))
	for i, s := range samples {
		r := &rs[i]
		r.quality = C.tw_quality(s.Quality)
		r.timestamp_ns = C.int64_t(s.TsNs)
		switch v := s.Value.(type) {
		case nil:
		case string, []byte:
			var b []byte
			t := C.tw_type(C.TW_TYPE_BYTES)
			if sv, ok := v.(string); ok {
				b, t = []byte(sv), C.TW_TYPE_STRING
			} else {
				b = v.([]byte)
			}
			if len(b) > int(r.buf_size) {
				writeErr(errors.New("value longer than the item's max_bytes"), errb, errlen)
				return C.TW_ERR_RANGE
			}
			copy(unsafe.Slice((*byte)(r.buf), int(r.buf_size)), b)
			C.twgo_set_buf(&r.value, t, r.buf, C.size_t(len(b)))
		default:
			if _, err := valueFromGo(v, &r.value); err != nil {
				writeErr(err, errb, errlen)
				return C.TW_ERR_TYPE_MISMATCH
			}
		}
	}
	return C.TW_OK
}

//export twgoAdapterWrite
func twgoAdapterWrite(ctx C.uintptr_t, item C.uintptr_t, value *C.tw_value, errb *C.char, n C.size_t) (st C.tw_status) {
	cs := cgo.Handle(ctx).Value().(*connState)
	defer cs.r.guard(&st, errb, n)
	if err := cs.r.a.Write(cs.conn, cgo.Handle(item).Value(), valueToGo(value)); err != nil {
		writeErr(err, errb, n)
		if e, ok := err.(*Error); ok {
			return C.tw_status(e.Code)
		}
		return C.TW_ERR_ADAPTER
	}
	return C.TW_OK
}
