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
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Access says who may write a tag from the cloud.
type Access int

const (
	AccessDefault   Access = C.TW_ACCESS_DEFAULT
	AccessRead      Access = C.TW_ACCESS_READ
	AccessWrite     Access = C.TW_ACCESS_WRITE
	AccessReadWrite Access = C.TW_ACCESS_READ_WRITE
)

func (a Access) String() string { return C.GoString(C.tw_access_name(C.tw_access(a))) }

// TagOptions are a tag's metadata and reporting options (zero values are the defaults).
type TagOptions struct {
	Description, Unit string
	Min, Max          float64
	Scale, Offset     float64
	Access            Access
	DeadbandPercent   bool
	Deadband          float64
	ReportEverySample bool
	Alias             uint64
	MaxLen            int
}

// Sample is a value with quality and source timestamp (ns since the Unix epoch).
type Sample struct {
	Value   any
	Quality Quality
	TsNs    int64
}

// Change is one entry of a change set.
type Change struct {
	Tag       *Tag
	Value     any
	Quality   Quality
	Coalesced uint32
	TsNs      int64
}

// WriteFunc carries out a write request for a tag; returning an error refuses it (an *Error's
// code is reported to the requester, any other error as ErrGeneric).
type WriteFunc func(tag *Tag, value any) error

type cbState struct {
	ts     *TagSet
	write  WriteFunc
	notify func(*TagSet)
}

// TagSet owns tags and keeps the change set. Setters of its tags may run on any goroutine;
// Add, Collect, Write and callback registration belong to one goroutine at a time.
type TagSet struct {
	p        *C.tw_tagset
	mu       sync.Mutex
	handles  map[*C.tw_tag]cgo.Handle
	setH     cgo.Handle
	notifyH  cgo.Handle
	buf      *C.tw_tag_change
	panicV   any
	borrowed bool // owned by a node: freed with it, not by Close
}

type cgoHandle = cgo.Handle

// detach forgets a borrowed set's C pointer (its owner freed it).
func (ts *TagSet) detach() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.p == nil {
		return
	}
	ts.p = nil
	C.free(unsafe.Pointer(ts.buf))
	ts.buf = nil
	for _, h := range ts.handles {
		h.Delete()
	}
	for _, h := range []cgo.Handle{ts.setH, ts.notifyH} {
		if h != 0 {
			h.Delete()
		}
	}
}

const collectCap = 256

// NewTagSet creates an empty tag set.
func NewTagSet() (*TagSet, error) {
	var p *C.tw_tagset
	if err := newCall(func() C.tw_status { return C.tw_tagset_new(&p) }); err != nil {
		return nil, err
	}
	ts := &TagSet{p: p, handles: map[*C.tw_tag]cgo.Handle{}}
	ts.buf = (*C.tw_tag_change)(C.calloc(collectCap, C.sizeof_tw_tag_change))
	runtime.SetFinalizer(ts, (*TagSet).Close)
	return ts, nil
}

// Close frees the set and its tags. Safe to call twice. A node's tag set is freed with the node.
func (ts *TagSet) Close() error {
	if ts.borrowed {
		return nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.p == nil {
		return nil
	}
	C.tw_tagset_free(ts.p)
	ts.p = nil
	C.free(unsafe.Pointer(ts.buf))
	ts.buf = nil
	for _, h := range ts.handles {
		h.Delete()
	}
	for _, h := range []cgo.Handle{ts.setH, ts.notifyH} {
		if h != 0 {
			h.Delete()
		}
	}
	runtime.SetFinalizer(ts, nil)
	return nil
}

func (ts *TagSet) lastError() string { return C.GoString(C.tw_tagset_last_error(ts.p)) }

// LastError is the last error recorded by a driving-thread call.
func (ts *TagSet) LastError() string {
	if ts.p == nil {
		return ""
	}
	defer runtime.KeepAlive(ts)
	return ts.lastError()
}

// tagOptions converts TagOptions (nil = defaults) to C; free releases the copies.
func tagOptions(opts *TagOptions) (*C.tw_tag_options, func()) {
	o := (*C.tw_tag_options)(C.calloc(1, C.sizeof_tw_tag_options))
	o.version = C.TW_TAG_OPTIONS_VERSION
	if opts != nil {
		o.description, o.unit = cstr(opts.Description), cstr(opts.Unit)
		o.min, o.max = C.double(opts.Min), C.double(opts.Max)
		o.scale, o.offset = C.double(opts.Scale), C.double(opts.Offset)
		o.access = C.tw_access(opts.Access)
		if opts.DeadbandPercent {
			o.deadband_mode = C.TW_DEADBAND_PERCENT
		}
		o.deadband = C.double(opts.Deadband)
		if opts.ReportEverySample {
			o.report_every_sample = 1
		}
		o.alias = C.uint64_t(opts.Alias)
		o.max_len = C.size_t(opts.MaxLen)
	}
	return o, func() {
		cfree(o.description)
		cfree(o.unit)
		C.free(unsafe.Pointer(o))
	}
}

// Add adds a tag of type typ; opts may be nil.
func (ts *TagSet) Add(name string, typ Type, opts *TagOptions) (*Tag, error) {
	if ts.p == nil {
		return nil, ErrClosed
	}
	o, free := tagOptions(opts)
	defer free()
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var tp *C.tw_tag
	st := C.tw_tagset_add(ts.p, &tp, cn, C.tw_type(typ), o)
	defer runtime.KeepAlive(ts)
	if st != C.TW_OK {
		return nil, newErr(st, ts.lastError())
	}
	return ts.wrap(tp), nil
}

func (ts *TagSet) wrap(tp *C.tw_tag) *Tag {
	// Not cached: a cache would make a reference cycle (set -> tag -> set) that keeps the
	// finalizer from running. Compare tags with Same.
	return &Tag{ts: ts, p: tp}
}

// Find returns the tag with that name, or nil.
func (ts *TagSet) Find(name string) *Tag {
	if ts.p == nil {
		return nil
	}
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	tp := C.tw_tagset_find(ts.p, cn)
	runtime.KeepAlive(ts)
	if tp == nil {
		return nil
	}
	return ts.wrap(tp)
}

// FindAlias returns the tag with that alias, or nil.
func (ts *TagSet) FindAlias(alias uint64) *Tag {
	if ts.p == nil {
		return nil
	}
	tp := C.tw_tagset_find_alias(ts.p, C.uint64_t(alias))
	runtime.KeepAlive(ts)
	if tp == nil {
		return nil
	}
	return ts.wrap(tp)
}

// Len is the number of tags.
func (ts *TagSet) Len() int {
	if ts.p == nil {
		return 0
	}
	defer runtime.KeepAlive(ts)
	return int(C.tw_tagset_count(ts.p))
}

// Tags returns the tags in order of addition.
func (ts *TagSet) Tags() []*Tag {
	n := ts.Len()
	out := make([]*Tag, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, ts.wrap(C.tw_tagset_at(ts.p, C.size_t(i))))
	}
	runtime.KeepAlive(ts)
	return out
}

// Pending is the number of tags waiting to be collected.
func (ts *TagSet) Pending() int {
	if ts.p == nil {
		return 0
	}
	defer runtime.KeepAlive(ts)
	return int(C.tw_tagset_pending(ts.p))
}

// Collect returns every tag changed since the last collection, once, with its latest value.
func (ts *TagSet) Collect() ([]Change, error) {
	if ts.p == nil {
		return nil, ErrClosed
	}
	defer runtime.KeepAlive(ts)
	var out []Change
	entries := unsafe.Slice(ts.buf, collectCap)
	for {
		var n C.size_t
		var more C.int
		if err := errOf(C.tw_tagset_collect(ts.p, ts.buf, collectCap, &n, &more)); err != nil {
			return out, err
		}
		for i := 0; i < int(n); i++ {
			c := &entries[i]
			out = append(out, Change{Tag: ts.wrap(c.tag), Value: valueToGo(&c.value),
				Quality: Quality(c.quality), Coalesced: uint32(c.coalesced), TsNs: int64(c.ts_ns)})
		}
		if more == 0 {
			return out, nil
		}
	}
}

// Fd is the descriptor that becomes readable when changes are pending.
func (ts *TagSet) Fd() int {
	if ts.p == nil {
		return -1
	}
	defer runtime.KeepAlive(ts)
	return int(C.tw_tagset_fd(ts.p))
}

// Wait blocks until changes are pending or ctx is done.
func (ts *TagSet) Wait(ctx context.Context) error {
	fd := ts.Fd()
	if fd < 0 {
		return ErrClosed
	}
	for {
		if ts.Pending() > 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var set syscall.FdSet
		set.Bits[fd/64] |= 1 << (uint(fd) % 64)
		tv := syscall.NsecToTimeval(int64(20 * time.Millisecond))
		if _, err := syscall.Select(fd+1, &set, nil, nil, &tv); err != nil && !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// SetNotify installs fn, called on the setter's goroutine when the change set becomes non-empty.
func (ts *TagSet) SetNotify(fn func(*TagSet)) {
	if ts.p == nil {
		return
	}
	var h cgo.Handle
	if fn != nil {
		h = cgo.NewHandle(&cbState{ts: ts, notify: fn})
	}
	C.twgo_tagset_set_notify(ts.p, C.uintptr_t(h))
	runtime.KeepAlive(ts)
	if ts.notifyH != 0 {
		ts.notifyH.Delete()
	}
	ts.notifyH = h
}

// SetWriteCallback sets the default write callback of every tag without its own.
func (ts *TagSet) SetWriteCallback(fn WriteFunc) {
	if ts.p == nil {
		return
	}
	var h cgo.Handle
	if fn != nil {
		h = cgo.NewHandle(&cbState{ts: ts, write: fn})
	}
	C.twgo_tagset_set_write_callback(ts.p, C.uintptr_t(h))
	runtime.KeepAlive(ts)
	if ts.setH != 0 {
		ts.setH.Delete()
	}
	ts.setH = h
}

//export twgoNotify
func twgoNotify(_ *C.tw_tagset, h C.uintptr_t) {
	s := cgo.Handle(h).Value().(*cbState)
	defer func() {
		if r := recover(); r != nil {
			s.ts.panicV = r
		}
	}()
	s.notify(s.ts)
}

//export twgoWriteCallback
func twgoWriteCallback(tag *C.tw_tag, value *C.tw_value, h C.uintptr_t) (st C.tw_status) {
	s := cgo.Handle(h).Value().(*cbState)
	defer func() {
		if r := recover(); r != nil { // carried back: re-panicked by Tag.Write after the C call
			s.ts.panicV = r
			st = C.TW_ERR_GENERIC
		}
	}()
	return statusOf(s.write(s.ts.wrap(tag), valueToGo(value)))
}

// Tag is one tag of a TagSet (valid until the set is closed; then its methods return
// ErrClosed). Several *Tag values may denote the same tag: compare them with Same.
type Tag struct {
	ts *TagSet
	p  *C.tw_tag
}

func (t *Tag) closed() bool { return t.ts.p == nil }

// Same reports whether t and o denote the same tag.
func (t *Tag) Same(o *Tag) bool { return o != nil && t.p == o.p }

func (t *Tag) done(st C.tw_status) error {
	runtime.KeepAlive(t.ts)
	if st == C.TW_OK {
		return nil
	}
	return errOf(st)
}

// Set sets the value (converted to the tag's type): bool, integers, floats, string, []byte or
// time.Time. q is the quality; tsNs the source timestamp (0 = now).
func (t *Tag) Set(value any, q Quality, tsNs int64) error {
	p := t.p
	if t.closed() {
		return ErrClosed
	}
	qq, ts := C.tw_quality(q), C.int64_t(tsNs)
	switch v := value.(type) {
	case float64:
		return t.done(C.tw_tag_set_double(p, C.double(v), qq, ts))
	case float32:
		return t.done(C.tw_tag_set_float(p, C.float(v), qq, ts))
	case int:
		return t.done(C.tw_tag_set_int64(p, C.int64_t(v), qq, ts))
	case int64:
		return t.done(C.tw_tag_set_int64(p, C.int64_t(v), qq, ts))
	case uint64:
		return t.done(C.tw_tag_set_uint64(p, C.uint64_t(v), qq, ts))
	case bool:
		b := C.int(0)
		if v {
			b = 1
		}
		return t.done(C.tw_tag_set_bool(p, b, qq, ts))
	case time.Time:
		return t.done(C.tw_tag_set_datetime(p, C.int64_t(v.UnixNano()), qq, ts))
	case string:
		cs := C.CString(v)
		defer C.free(unsafe.Pointer(cs))
		if len(v) > 0 && int(C.strlen(cs)) != len(v) { // embedded NUL: length-delimited
			return t.done(C.tw_tag_set_bytes(p, unsafe.Pointer(cs), C.size_t(len(v)), qq, ts))
		}
		return t.done(C.tw_tag_set_string(p, cs, qq, ts))
	case []byte:
		var ptr unsafe.Pointer
		if len(v) > 0 {
			ptr = unsafe.Pointer(&v[0])
		}
		return t.done(C.tw_tag_set_bytes(p, ptr, C.size_t(len(v)), qq, ts))
	}
	cv := (*C.tw_value)(C.calloc(1, C.sizeof_tw_value))
	defer C.free(unsafe.Pointer(cv))
	free, err := valueFromGo(value, cv)
	if err != nil {
		return err
	}
	defer free()
	return t.done(C.tw_tag_set_value(p, cv, qq, ts))
}

// SetDouble is the fast path for numeric tags (good quality, timestamp now).
func (t *Tag) SetDouble(v float64) error {
	if t.closed() {
		return ErrClosed
	}
	return t.done(C.tw_tag_set_double(t.p, C.double(v), C.TW_QUALITY_GOOD, 0))
}

// SetInt is the fast path for integer tags (good quality, timestamp now).
func (t *Tag) SetInt(v int64) error {
	if t.closed() {
		return ErrClosed
	}
	return t.done(C.tw_tag_set_int64(t.p, C.int64_t(v), C.TW_QUALITY_GOOD, 0))
}

// SetQuality changes only the quality.
func (t *Tag) SetQuality(q Quality, tsNs int64) error {
	if t.closed() {
		return ErrClosed
	}
	return t.done(C.tw_tag_set_quality(t.p, C.tw_quality(q), C.int64_t(tsNs)))
}

// SetRaw sets a raw device value scaled to engineering units (int64 keeps full precision).
func (t *Tag) SetRaw(raw any, q Quality, tsNs int64) error {
	if t.closed() {
		return ErrClosed
	}
	switch v := raw.(type) {
	case int64:
		return t.done(C.tw_tag_set_raw_int64(t.p, C.int64_t(v), C.tw_quality(q), C.int64_t(tsNs)))
	case int:
		return t.done(C.tw_tag_set_raw_int64(t.p, C.int64_t(v), C.tw_quality(q), C.int64_t(tsNs)))
	case float64:
		return t.done(C.tw_tag_set_raw_double(t.p, C.double(v), C.tw_quality(q), C.int64_t(tsNs)))
	}
	return ErrTypeMismatch
}

// EngToRaw and RawToEng apply the tag's scaling.
func (t *Tag) EngToRaw(eng float64) float64 {
	defer runtime.KeepAlive(t.ts)
	return float64(C.tw_tag_eng_to_raw(t.p, C.double(eng)))
}

func (t *Tag) RawToEng(raw float64) float64 {
	defer runtime.KeepAlive(t.ts)
	return float64(C.tw_tag_raw_to_eng(t.p, C.double(raw)))
}

// Get returns the current value, quality and timestamp.
func (t *Tag) Get() (Sample, error) {
	if t.closed() {
		return Sample{}, ErrClosed
	}
	v := (*C.tw_value)(C.calloc(1, C.sizeof_tw_value))
	defer C.free(unsafe.Pointer(v))
	var q C.tw_quality
	var ts C.int64_t
	if err := t.done(C.tw_tag_get(t.p, v, &q, &ts)); err != nil {
		return Sample{}, err
	}
	s := Sample{Value: valueToGo(v), Quality: Quality(q), TsNs: int64(ts)}
	C.tw_value_clear(v)
	return s, nil
}

// Float64 returns the value converted to float64 (numeric and bool tags).
func (t *Tag) Float64() (float64, error) {
	if t.closed() {
		return 0, ErrClosed
	}
	var d C.double
	err := t.done(C.tw_tag_get_double(t.p, &d, nil, nil))
	return float64(d), err
}

// Bytes returns a STRING/BYTES value without a C allocation (tw_tag_get_buf).
func (t *Tag) Bytes() ([]byte, error) {
	if t.closed() {
		return nil, ErrClosed
	}
	buf := make([]byte, int(C.tw_tag_max_len(t.p))+1)
	var n C.size_t
	err := t.done(C.tw_tag_get_buf(t.p, unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &n, nil, nil))
	return buf[:n], err
}

// Snapshot returns the current value as a change entry without touching the change set.
func (t *Tag) Snapshot() (Change, error) {
	if t.closed() {
		return Change{}, ErrClosed
	}
	c := (*C.tw_tag_change)(C.calloc(1, C.sizeof_tw_tag_change))
	defer C.free(unsafe.Pointer(c))
	if err := t.done(C.tw_tag_snapshot(t.p, c)); err != nil {
		return Change{}, err
	}
	return Change{Tag: t, Value: valueToGo(&c.value), Quality: Quality(c.quality), Coalesced: uint32(c.coalesced), TsNs: int64(c.ts_ns)}, nil
}

// SetWriteCallback sets the tag's own write callback (nil removes it).
func (t *Tag) SetWriteCallback(fn WriteFunc) {
	if t.closed() {
		return
	}
	var h cgo.Handle
	if fn != nil {
		h = cgo.NewHandle(&cbState{ts: t.ts, write: fn})
	}
	C.twgo_tag_set_write_callback(t.p, C.uintptr_t(h))
	runtime.KeepAlive(t.ts)
	t.ts.mu.Lock()
	if old, ok := t.ts.handles[t.p]; ok {
		old.Delete()
	}
	if h != 0 {
		t.ts.handles[t.p] = h
	} else {
		delete(t.ts.handles, t.p)
	}
	t.ts.mu.Unlock()
}

// Write delivers a write request as the runtime does (tw_tag_write). A panic in the callback is
// re-panicked here, after the C call has returned.
func (t *Tag) Write(value any) error {
	if t.closed() {
		return ErrClosed
	}
	cv := (*C.tw_value)(C.calloc(1, C.sizeof_tw_value))
	defer C.free(unsafe.Pointer(cv))
	free, err := valueFromGo(value, cv)
	if err != nil {
		return err
	}
	defer free()
	st := C.tw_tag_write(t.p, cv)
	runtime.KeepAlive(t.ts)
	if pv := t.ts.panicV; pv != nil {
		t.ts.panicV = nil
		panic(pv)
	}
	return newErr(st, t.ts.lastError())
}

// Metadata.
func (t *Tag) Name() string {
	defer runtime.KeepAlive(t.ts)
	return C.GoString(C.tw_tag_name(t.p))
}
func (t *Tag) Alias() uint64 {
	defer runtime.KeepAlive(t.ts)
	return uint64(C.tw_tag_alias(t.p))
}
func (t *Tag) Type() Type {
	defer runtime.KeepAlive(t.ts)
	return Type(C.tw_tag_type(t.p))
}
func (t *Tag) Unit() string {
	defer runtime.KeepAlive(t.ts)
	return C.GoString(C.tw_tag_unit(t.p))
}
func (t *Tag) Description() string {
	defer runtime.KeepAlive(t.ts)
	return C.GoString(C.tw_tag_description(t.p))
}
func (t *Tag) Access() Access {
	defer runtime.KeepAlive(t.ts)
	return Access(C.tw_tag_access(t.p))
}

// Range returns the engineering range and whether one is set.
func (t *Tag) Range() (min, max float64, ok bool) {
	var lo, hi C.double
	ok = C.tw_tag_range(t.p, &lo, &hi) != 0
	runtime.KeepAlive(t.ts)
	return float64(lo), float64(hi), ok
}

// Deadband returns the configured deadband and its absolute value in engineering units.
func (t *Tag) Deadband() (value, absolute float64, percent bool) {
	var m C.tw_deadband_mode
	var v, a C.double
	C.tw_tag_deadband(t.p, &m, &v, &a)
	runtime.KeepAlive(t.ts)
	return float64(v), float64(a), m == C.TW_DEADBAND_PERCENT
}

// TagSet returns the set the tag belongs to.
func (t *Tag) TagSet() *TagSet { return t.ts }

// ValidateName checks a tag name against the naming rules.
func ValidateName(name string) error {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var buf [256]C.char
	st := C.tw_tag_name_validate(cn, &buf[0], 256)
	return newErr(st, C.GoString(&buf[0]))
}
