package tagwire

/*
#include "twgo.h"
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// HTTPS batch uplink (tagwire/https.h): drains a Store to an HTTPS endpoint over mutual TLS.

// HTTPSEntry is one entry of a store record: a tag name, its value (nil for none), quality and
// source timestamp in ns since the Unix epoch.
type HTTPSEntry struct {
	Name    string
	Type    Type
	Value   any
	Quality Quality
	TsNs    int64
}

// HTTPSNameMax is the longest tag name of an entry, in bytes.
const HTTPSNameMax = int(C.TW_HTTPS_NAME_MAX)

// HTTPSRecordEncode appends one entry to rec and returns the extended slice (tw_https_record_encode).
// value nil writes a value-less entry; other values map as for tags (int -> INT64, float64 ->
// DOUBLE, string, []byte, time.Time -> DATETIME ...). Errors: ErrInvalidArg (empty name),
// ErrRange (name longer than HTTPSNameMax).
func HTTPSRecordEncode(rec []byte, name string, value any, q Quality, tsNs int64) ([]byte, error) {
	v := (*C.tw_value)(C.calloc(1, C.sizeof_tw_value))
	defer C.free(unsafe.Pointer(v))
	var vp *C.tw_value
	extra := 0
	if value != nil {
		free, err := valueFromGo(value, v)
		if err != nil {
			return rec, err
		}
		defer free()
		vp = v
		extra = int(C.twgo_value_len(v))
		if t := Type(v._type); t != TypeString && t != TypeBytes {
			extra = 0
		}
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	capacity := int(C.TW_HTTPS_ENTRY_HEADER) + len(name) + 8 + extra
	buf := C.malloc(C.size_t(capacity))
	defer C.free(buf)
	var n C.size_t
	if err := errOf(C.tw_https_record_encode(buf, C.size_t(capacity), &n, cname, vp, C.tw_quality(q),
		C.int64_t(tsNs))); err != nil {
		return rec, err
	}
	return append(rec, C.GoBytes(buf, C.int(n))...), nil
}

// HTTPSRecordNext decodes the entry at offset of rec (tw_https_record_next) and returns it with
// the offset of the next one; ok is false at the end of the record. Errors: ErrParse.
func HTTPSRecordNext(rec []byte, offset int) (e HTTPSEntry, next int, ok bool, err error) {
	if offset < 0 || offset > len(rec) {
		return e, offset, false, ErrInvalidArg
	}
	if len(rec) == 0 {
		return e, 0, false, nil
	}
	cbuf := C.CBytes(rec)
	defer C.free(cbuf)
	off := C.size_t(offset)
	ce := (*C.tw_https_entry)(C.calloc(1, C.sizeof_tw_https_entry))
	defer C.free(unsafe.Pointer(ce))
	st := C.tw_https_record_next(cbuf, C.size_t(len(rec)), &off, ce)
	if st == C.TW_ERR_AGAIN {
		return e, offset, false, nil
	}
	if err := errOf(st); err != nil {
		return e, offset, false, err
	}
	e = HTTPSEntry{Name: C.GoStringN(ce.name, C.int(ce.name_len)), Type: Type(ce.value._type),
		Value: valueToGo(&ce.value), Quality: Quality(ce.quality), TsNs: int64(ce.ts_ns)}
	return e, int(off), true, nil
}

// HTTPSRecordEntries decodes every entry of rec.
func HTTPSRecordEntries(rec []byte) ([]HTTPSEntry, error) {
	var out []HTTPSEntry
	off := 0
	for {
		e, next, ok, err := HTTPSRecordNext(rec, off)
		if err != nil || !ok {
			return out, err
		}
		out = append(out, e)
		off = next
	}
}

// HTTPSFormat is the body format of a batch.
type HTTPSFormat int

const (
	HTTPSFormatJSONL    HTTPSFormat = C.TW_HTTPS_FORMAT_JSONL
	HTTPSFormatProtobuf HTTPSFormat = C.TW_HTTPS_FORMAT_PROTOBUF
)

// HTTPSRejectPolicy says what happens to a batch the server refuses permanently (4xx).
type HTTPSRejectPolicy int

const (
	HTTPSRejectHold HTTPSRejectPolicy = C.TW_HTTPS_REJECT_HOLD
	HTTPSRejectPark HTTPSRejectPolicy = C.TW_HTTPS_REJECT_PARK
	HTTPSRejectDrop HTTPSRejectPolicy = C.TW_HTTPS_REJECT_DROP
)

// HTTPSState is the uplink's state.
type HTTPSState int

const (
	HTTPSIdle    HTTPSState = C.TW_HTTPS_IDLE
	HTTPSSending HTTPSState = C.TW_HTTPS_SENDING
	HTTPSBackoff HTTPSState = C.TW_HTTPS_BACKOFF
	HTTPSHeld    HTTPSState = C.TW_HTTPS_HELD
)

// HTTPSOptions mirror tw_https_options; zero values select the documented defaults.
type HTTPSOptions struct {
	URL                                string
	CAFile, CertFile, KeyFile, KeyPass string
	UseSystemTrust, Gzip               bool
	Format                             HTTPSFormat
	MaxBatchRecords, MaxBatchBytes     uint32
	TimeoutMs, ConnectTimeoutMs        uint32
	BackoffBaseMs, BackoffCapMs        uint32
	MaxRetryAfterS, HistoricalMs       uint32
	OnReject                           HTTPSRejectPolicy
	ParkDir, InstanceID                string
	// OnRejectFn, when set, is called (inside Step, on its goroutine) for a batch refused
	// permanently, before the policy applies: the HTTP status (0: unparsable records), its
	// Idempotency-Key, the body as sent (before gzip) and its number of store records. It must
	// not call into the uplink or its store; a panic in it is re-raised by Step.
	OnRejectFn func(httpStatus int, key string, body []byte, records uint64)
}

type httpsReject struct {
	fn     func(int, string, []byte, uint64)
	panicV any
}

//export twgoHTTPSReject
func twgoHTTPSReject(status C.long, key *C.char, body unsafe.Pointer, n C.size_t, records C.uint64_t, h C.uintptr_t) {
	r := cgo.Handle(h).Value().(*httpsReject)
	defer func() {
		if v := recover(); v != nil && r.panicV == nil {
			r.panicV = v
		}
	}()
	var b []byte
	if n > 0 {
		b = C.GoBytes(body, C.int(n))
	}
	r.fn(int(status), C.GoString(key), b, uint64(records))
}

// HTTPSStats are the uplink's counters (tw_https_stats).
type HTTPSStats struct {
	Batches, Records, Values, Bytes, Requests, Retries, Failures uint64
	RejectedBatches, RejectedRecords, ParkedBatches              uint64
	LastHTTPStatus                                               int
	LastStatus                                                   Status
	LastRetryAfterS                                              uint32
	AckedSeq                                                     uint64
}

// HTTPSUplink drains a Store to an HTTPS endpoint. One goroutine at a time; the store must stay
// open while the uplink exists.
type HTTPSUplink struct {
	p  *C.tw_https_uplink
	st *Store
	rj *httpsReject
	h  cgo.Handle
}

// NewHTTPSUplink creates an uplink for store. Bad options return ErrConfig (the reason is logged).
func NewHTTPSUplink(store *Store, o HTTPSOptions) (*HTTPSUplink, error) {
	if store == nil || store.p == nil {
		return nil, ErrInvalidArg
	}
	co := (*C.tw_https_options)(C.calloc(1, C.sizeof_tw_https_options))
	defer C.free(unsafe.Pointer(co))
	co.version = C.TW_HTTPS_OPTIONS_VERSION
	var frees []*C.char
	s := func(v string) *C.char {
		if v == "" {
			return nil
		}
		c := C.CString(v)
		frees = append(frees, c)
		return c
	}
	defer func() {
		for _, c := range frees {
			C.free(unsafe.Pointer(c))
		}
	}()
	co.url, co.ca_file, co.cert_file, co.key_file = s(o.URL), s(o.CAFile), s(o.CertFile), s(o.KeyFile)
	co.key_password, co.park_dir, co.instance_id = s(o.KeyPass), s(o.ParkDir), s(o.InstanceID)
	if o.UseSystemTrust {
		co.use_system_trust = 1
	}
	if o.Gzip {
		co.gzip = 1
	}
	co.format = C.tw_https_format(o.Format)
	co.max_batch_records, co.max_batch_bytes = C.uint32_t(o.MaxBatchRecords), C.uint32_t(o.MaxBatchBytes)
	co.timeout_ms, co.connect_timeout_ms = C.uint32_t(o.TimeoutMs), C.uint32_t(o.ConnectTimeoutMs)
	co.backoff_base_ms, co.backoff_cap_ms = C.uint32_t(o.BackoffBaseMs), C.uint32_t(o.BackoffCapMs)
	co.max_retry_after_s, co.historical_ms = C.uint32_t(o.MaxRetryAfterS), C.uint32_t(o.HistoricalMs)
	co.on_reject = C.tw_https_reject_policy(o.OnReject)
	var rj *httpsReject
	var h cgo.Handle
	if o.OnRejectFn != nil {
		rj = &httpsReject{fn: o.OnRejectFn}
		h = cgo.NewHandle(rj)
		C.twgo_https_set_reject(co, C.uintptr_t(h))
	}
	var p *C.tw_https_uplink
	if err := newCall(func() C.tw_status { return C.tw_https_uplink_new(&p, store.p, co) }); err != nil {
		if h != 0 {
			h.Delete()
		}
		return nil, err
	}
	runtime.KeepAlive(store)
	u := &HTTPSUplink{p: p, st: store, rj: rj, h: h}
	runtime.SetFinalizer(u, (*HTTPSUplink).Close)
	return u, nil
}

// Close aborts a request in flight (its batch stays in the store) and frees the uplink.
func (u *HTTPSUplink) Close() error {
	if u.p != nil {
		C.tw_https_uplink_free(u.p)
		u.p, u.st = nil, nil
		if u.h != 0 {
			u.h.Delete()
			u.h = 0
		}
		runtime.SetFinalizer(u, nil)
	}
	return nil
}

func (u *HTTPSUplink) check(st C.tw_status) error {
	defer runtime.KeepAlive(u)
	return newErr(st, C.GoString(C.tw_https_uplink_last_error(u.p)))
}

// LastError is the detail of the last failure (attempt or call).
func (u *HTTPSUplink) LastError() string {
	if u.p == nil {
		return ""
	}
	defer runtime.KeepAlive(u)
	return C.GoString(C.tw_https_uplink_last_error(u.p))
}

// Step does the uplink's work, waiting at most timeoutMs for the network, and returns the state.
// A failed attempt is not an error (see Stats); a batch refused under HTTPSRejectHold returns
// HTTPSHeld with a nil error (see Release). Store failures are returned as errors.
func (u *HTTPSUplink) Step(timeoutMs uint32) (HTTPSState, error) {
	if u.p == nil {
		return HTTPSIdle, ErrClosed
	}
	st := C.tw_https_uplink_step(u.p, C.uint32_t(timeoutMs))
	state := HTTPSState(C.tw_https_uplink_state(u.p))
	if u.rj != nil && u.rj.panicV != nil {
		v := u.rj.panicV
		u.rj.panicV = nil
		panic(v)
	}
	if st == C.TW_ERR_BUSY && state == HTTPSHeld {
		return state, nil
	}
	return state, u.check(st)
}

// State is the current state.
func (u *HTTPSUplink) State() HTTPSState {
	defer runtime.KeepAlive(u)
	return HTTPSState(C.tw_https_uplink_state(u.p))
}

// NextMs is the time until Step next has work without network activity; ok false = only on
// socket activity or new records.
func (u *HTTPSUplink) NextMs() (ms uint32, ok bool) {
	if u.p == nil {
		return 0, false
	}
	defer runtime.KeepAlive(u)
	v := uint32(C.tw_https_uplink_next_ms(u.p))
	return v, v != 0xFFFFFFFF
}

// HTTPSFd is a socket the uplink waits on, with HTTPSFdRead/HTTPSFdWrite bits.
type HTTPSFd struct{ Fd, Events int }

const (
	HTTPSFdRead  = int(C.TW_HTTPS_FD_READ)
	HTTPSFdWrite = int(C.TW_HTTPS_FD_WRITE)
)

// Fds lists the sockets the uplink currently waits on.
func (u *HTTPSUplink) Fds() ([]HTTPSFd, error) {
	if u.p == nil {
		return nil, ErrClosed
	}
	const capacity = 16
	arr := (*[2 * capacity]C.int)(C.calloc(2*capacity, C.sizeof_int))
	defer C.free(unsafe.Pointer(arr))
	var n C.size_t
	if err := u.check(C.tw_https_uplink_fds(u.p, &arr[0], &arr[capacity], capacity, &n)); err != nil {
		return nil, err
	}
	var out []HTTPSFd
	for i := 0; i < int(n) && i < capacity; i++ {
		out = append(out, HTTPSFd{Fd: int(arr[i]), Events: int(arr[capacity+i])})
	}
	return out, nil
}

// Release resumes after a batch refused under HTTPSRejectHold: sends it again (drop false) or
// trims it (drop true). ErrBusy when not held.
func (u *HTTPSUplink) Release(drop bool) error {
	if u.p == nil {
		return ErrClosed
	}
	d := 0
	if drop {
		d = 1
	}
	return u.check(C.tw_https_uplink_release(u.p, C.int(d)))
}

// RetryNow ends the current back-off (or aborts the attempt in flight) and retries at the next Step.
func (u *HTTPSUplink) RetryNow() {
	if u.p != nil {
		C.tw_https_uplink_retry_now(u.p)
		runtime.KeepAlive(u)
	}
}

// Stats returns the uplink's counters.
func (u *HTTPSUplink) Stats() (HTTPSStats, error) {
	if u.p == nil {
		return HTTPSStats{}, ErrClosed
	}
	st := (*C.tw_https_stats)(C.calloc(1, C.sizeof_tw_https_stats))
	defer C.free(unsafe.Pointer(st))
	st.version = C.TW_HTTPS_STATS_VERSION
	if err := u.check(C.tw_https_uplink_stats_get(u.p, st)); err != nil {
		return HTTPSStats{}, err
	}
	return HTTPSStats{Batches: uint64(st.batches), Records: uint64(st.records),
		Values: uint64(st.values), Bytes: uint64(st.bytes), Requests: uint64(st.requests),
		Retries: uint64(st.retries), Failures: uint64(st.failures),
		RejectedBatches: uint64(st.rejected_batches), RejectedRecords: uint64(st.rejected_records),
		ParkedBatches: uint64(st.parked_batches), LastHTTPStatus: int(st.last_http_status),
		LastStatus: Status(st.last_status), LastRetryAfterS: uint32(st.last_retry_after_s),
		AckedSeq: uint64(st.acked_seq)}, nil
}
