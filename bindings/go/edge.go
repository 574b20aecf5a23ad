package tagwire

/*
#include "twgo.h"
*/
import "C"

import (
	"context"
	"runtime"
	"time"
	"unsafe"
)

// EdgeOptions configure a Sparkplug edge session (see tagwire/edge.h).
type EdgeOptions struct {
	GroupID, EdgeNodeID, PrimaryHostID, Host, ClientID, StateDir string
	Port                                                         uint16
	TLS                                                          *TLSConfig
	Store                                                        *Store // history and bdSeq (optional; must outlive the edge)
}

// EdgeState is the session state.
type EdgeState int

const (
	EdgeStopped     EdgeState = C.TW_EDGE_STOPPED
	EdgeConnecting  EdgeState = C.TW_EDGE_CONNECTING
	EdgeWaitingHost EdgeState = C.TW_EDGE_WAITING_HOST
	EdgeOnline      EdgeState = C.TW_EDGE_ONLINE
	EdgeBackoff     EdgeState = C.TW_EDGE_BACKOFF
)

func (s EdgeState) String() string { return C.GoString(C.tw_edge_state_name(C.tw_edge_state(s))) }

// Edge is a Sparkplug B edge session over one MQTT connection; you own the tag sets.
type Edge struct {
	p    *C.tw_edge
	sets []*TagSet
	st   *Store
}

// NewEdge creates a session (not connected before Start).
func NewEdge(o EdgeOptions) (*Edge, error) {
	co := (*C.tw_edge_options)(C.calloc(1, C.sizeof_tw_edge_options))
	defer C.free(unsafe.Pointer(co))
	co.version = C.TW_EDGE_OPTIONS_VERSION
	var frees []*C.char
	s := func(v string) *C.char { c := cstr(v); frees = append(frees, c); return c }
	defer func() {
		for _, c := range frees {
			cfree(c)
		}
	}()
	co.group_id, co.edge_node_id, co.primary_host_id = s(o.GroupID), s(o.EdgeNodeID), s(o.PrimaryHostID)
	co.host, co.client_id, co.state_dir = s(o.Host), s(o.ClientID), s(o.StateDir)
	co.port = C.uint16_t(o.Port)
	co.qos = C.TW_EDGE_QOS_DEFAULT // QoS 1 for births and data
	if o.TLS != nil {
		co.tls = o.TLS.p
	}
	if o.Store != nil {
		co.store = o.Store.p
	}
	var p *C.tw_edge
	if err := newCall(func() C.tw_status { return C.tw_edge_new(&p, co) }); err != nil {
		return nil, err
	}
	runtime.KeepAlive(o.TLS)
	e := &Edge{p: p, st: o.Store}
	runtime.SetFinalizer(e, (*Edge).Close)
	return e, nil
}

// Close frees the session without a death certificate (Stop first for a clean stop).
func (e *Edge) Close() error {
	if e.p != nil {
		C.tw_edge_free(e.p)
		e.p = nil
		runtime.SetFinalizer(e, nil)
	}
	return nil
}

func (e *Edge) check(st C.tw_status) error {
	defer runtime.KeepAlive(e)
	return newErr(st, C.GoString(C.tw_edge_last_error(e.p)))
}

// SetNodeTags registers the node's own metrics (the set must outlive the edge).
func (e *Edge) SetNodeTags(ts *TagSet) error {
	e.sets = append(e.sets, ts)
	return e.check(C.tw_edge_set_node_tags(e.p, ts.p))
}

// AddDevice registers a device and its tag set (which must outlive the edge).
func (e *Edge) AddDevice(id string, ts *TagSet) error {
	ci := C.CString(id)
	defer C.free(unsafe.Pointer(ci))
	e.sets = append(e.sets, ts)
	return e.check(C.tw_edge_add_device(e.p, ci, ts.p))
}

// Start begins connecting (progress in Step).
func (e *Edge) Start() error { return e.check(C.tw_edge_start(e.p)) }

// Step waits up to timeout for I/O, timers or tag changes and does the pending work.
func (e *Edge) Step(timeout time.Duration) error {
	return e.check(C.tw_edge_step(e.p, C.int(timeout.Milliseconds())))
}

// WaitOnline steps until the session is online or ctx is done.
func (e *Edge) WaitOnline(ctx context.Context) error {
	for e.State() != EdgeOnline {
		if err := ctx.Err(); err != nil {
			return err
		}
		e.Step(50 * time.Millisecond)
	}
	return nil
}

// Publish sends the pending changes now.
func (e *Edge) Publish() error { return e.check(C.tw_edge_publish(e.p)) }

// Stop publishes the death certificate and disconnects (bounded by timeout).
func (e *Edge) Stop(timeout time.Duration) error {
	return e.check(C.tw_edge_stop(e.p, C.int(timeout.Milliseconds())))
}

// State is the session state.
func (e *Edge) State() EdgeState {
	defer runtime.KeepAlive(e)
	return EdgeState(C.tw_edge_state_get(e.p))
}

// EdgeStats are the session's counters.
type EdgeStats struct {
	BdSeq                                       uint32
	Births, MessagesPublished, MetricsPublished uint64
	Connects, Refused, QueueDropped             uint64
}

// Stats returns the session's counters.
func (e *Edge) Stats() (EdgeStats, error) {
	s := (*C.tw_edge_stats)(C.calloc(1, C.sizeof_tw_edge_stats))
	defer C.free(unsafe.Pointer(s))
	s.version = C.TW_EDGE_STATS_VERSION
	if err := e.check(C.tw_edge_stats_get(e.p, s)); err != nil {
		return EdgeStats{}, err
	}
	return EdgeStats{BdSeq: uint32(s.bdseq), Births: uint64(s.births), MessagesPublished: uint64(s.messages_published),
		MetricsPublished: uint64(s.metrics_published), Connects: uint64(s.connects), Refused: uint64(s.refused),
		QueueDropped: uint64(s.queue_dropped)}, nil
}
