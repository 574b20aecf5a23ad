package tagwire

/*
#include "twgo.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// StoreOptions configure a store; Dir "" selects the in-memory back end.
type StoreOptions struct {
	Dir            string
	MaxBytes       uint64
	MaxAgeMs       uint64
	RefuseNew      bool // overflow: refuse new records instead of dropping the oldest
	SyncBatch      bool // group commit instead of fsync per record
	ReadOnly       bool // inspect a directory without the lock, changing nothing
	MaxRecordBytes uint32
}

// StoreRecord is one record read from a store.
type StoreRecord struct {
	Seq    uint64
	TimeMs int64
	Data   []byte
}

// StoreStats are a store's counters.
type StoreStats struct {
	Records, Bytes, OldestSeq, NewestSeq, NextSeq, AckedSeq, DurableSeq, ReadSeq uint64
	DroppedOverflow, DroppedAge, CorruptRecords, TornRecords                     uint64
}

// Store is a store-and-forward log (memory ring or crash-safe disk segments).
type Store struct {
	p   *C.tw_store
	rec *C.tw_store_record
}

// OpenStore opens (disk: creates or recovers) a store.
func OpenStore(o StoreOptions) (*Store, error) {
	co := (*C.tw_store_options)(C.calloc(1, C.sizeof_tw_store_options))
	defer C.free(unsafe.Pointer(co))
	co.version = C.TW_STORE_OPTIONS_VERSION
	if o.Dir != "" {
		co.backend = C.TW_STORE_DISK
		co.dir = C.CString(o.Dir)
		defer C.free(unsafe.Pointer(co.dir))
	}
	co.max_bytes, co.max_age_ms, co.max_record_bytes = C.uint64_t(o.MaxBytes), C.uint64_t(o.MaxAgeMs), C.uint32_t(o.MaxRecordBytes)
	if o.RefuseNew {
		co.overflow = C.TW_STORE_REFUSE_NEW
	}
	if o.SyncBatch {
		co.sync = C.TW_STORE_SYNC_BATCH
	}
	if o.ReadOnly {
		co.read_only = 1
	}
	var p *C.tw_store
	if err := newCall(func() C.tw_status { return C.tw_store_new(&p, co) }); err != nil {
		return nil, err
	}
	s := &Store{p: p, rec: (*C.tw_store_record)(C.calloc(1, C.sizeof_tw_store_record))}
	runtime.SetFinalizer(s, (*Store).Close)
	return s, nil
}

// Close syncs, writes the checkpoint and frees the store.
func (s *Store) Close() error {
	if s.p != nil {
		C.tw_store_free(s.p)
		C.free(unsafe.Pointer(s.rec))
		s.p, s.rec = nil, nil
		runtime.SetFinalizer(s, nil)
	}
	return nil
}

func (s *Store) check(st C.tw_status) error {
	defer runtime.KeepAlive(s)
	return newErr(st, C.GoString(C.tw_store_last_error(s.p)))
}

// Append stores a record and returns its sequence number.
func (s *Store) Append(data []byte) (uint64, error) {
	if s.p == nil {
		return 0, ErrClosed
	}
	var seq C.uint64_t
	var ptr unsafe.Pointer
	if len(data) > 0 {
		ptr = unsafe.Pointer(&data[0])
	}
	err := s.check(C.tw_store_append(s.p, &seq, ptr, C.size_t(len(data))))
	return uint64(seq), err
}

// Read returns the record at the read cursor, or nil when every record was read.
func (s *Store) Read() (*StoreRecord, error) {
	if s.p == nil {
		return nil, ErrClosed
	}
	st := C.tw_store_read(s.p, s.rec)
	if st == C.TW_ERR_AGAIN {
		return nil, nil
	}
	if err := s.check(st); err != nil {
		return nil, err
	}
	return &StoreRecord{Seq: uint64(s.rec.seq), TimeMs: int64(s.rec.time_ms),
		Data: C.GoBytes(s.rec.data, C.int(s.rec.len))}, nil
}

// Ack trims every record with a sequence number <= seq.
func (s *Store) Ack(seq uint64) error { return s.check(C.tw_store_ack(s.p, C.uint64_t(seq))) }

// Rewind moves the read cursor back to the first unacknowledged record.
func (s *Store) Rewind() error { return s.check(C.tw_store_rewind(s.p)) }

// Sync makes every appended record durable.
func (s *Store) Sync() error { return s.check(C.tw_store_sync(s.p)) }

// Stats returns the store's counters.
func (s *Store) Stats() (StoreStats, error) {
	st := (*C.tw_store_stats)(C.calloc(1, C.sizeof_tw_store_stats))
	defer C.free(unsafe.Pointer(st))
	st.version = C.TW_STORE_STATS_VERSION
	if err := s.check(C.tw_store_stats_get(s.p, st)); err != nil {
		return StoreStats{}, err
	}
	return StoreStats{Records: uint64(st.records), Bytes: uint64(st.bytes), OldestSeq: uint64(st.oldest_seq),
		NewestSeq: uint64(st.newest_seq), NextSeq: uint64(st.next_seq), AckedSeq: uint64(st.acked_seq),
		DurableSeq: uint64(st.durable_seq), ReadSeq: uint64(st.read_seq), DroppedOverflow: uint64(st.dropped_overflow),
		DroppedAge: uint64(st.dropped_age), CorruptRecords: uint64(st.corrupt_records), TornRecords: uint64(st.torn_records)}, nil
}

// StateSetU64 and StateGetU64 keep small durable integers (e.g. Sparkplug's bdSeq).
func (s *Store) StateSetU64(key string, v uint64) error {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	return s.check(C.tw_store_state_set_u64(s.p, ck, C.uint64_t(v)))
}

func (s *Store) StateGetU64(key string) (uint64, error) {
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	var v C.uint64_t
	err := s.check(C.tw_store_state_get_u64(s.p, ck, &v))
	return uint64(v), err
}
