package tagwire

/*
#include "twgo.h"
*/
import "C"

import (
	"context"
	"runtime"
	"unsafe"
)

// NodeOptions configure an edge node (see tagwire/node.h). Zero values are the defaults.
type NodeOptions struct {
	GroupID, EdgeNodeID, Broker, ClientID             string
	TLSCAFile, TLSCertFile, TLSKeyFile, TLSServerName string
	CredentialsDir, StateDir, PrimaryHostID           string
	Insecure                                          bool
	PublishIntervalMs, ShutdownTimeoutMs              uint32
}

// Node is one Sparkplug B edge node: node tags, devices, the uplink over MQTT + mutual TLS.
type Node struct {
	p       *C.tw_node
	tags    *TagSet
	started bool
}

// NodeDevice is a Sparkplug device of a node (owned by the node).
type NodeDevice struct {
	n    *Node
	p    *C.tw_node_device
	Tags *TagSet
}

// NodeStats are the node's counters.
type NodeStats struct {
	Online                                                bool
	Connects, MessagesPublished, Births, MetricsPublished uint64
	Polls, PollErrors, Commands, QueueDepth, DeviceWrites uint64
	// The store (0 without StateDir's store): records/bytes not yet confirmed, dropped and refused
	// changes, the acknowledged watermark and the last sequence number appended.
	StoreRecords, StoreBytes, StoreDropped, StoreRefused, StoreAckedSeq, StoreLastSeq uint64
	// The client certificate new connections present (Unix seconds; 0 without TLS credentials),
	// when its renewal is due (0 without enrollment) and the renewals committed / failed.
	CertNotAfter, CertRenewAt       int64
	CertRenewals, CertRenewFailures uint64
}

func borrowTagSet(p *C.tw_tagset) *TagSet {
	return &TagSet{p: p, handles: map[*C.tw_tag]cgoHandle{}, borrowed: true,
		buf: (*C.tw_tag_change)(C.calloc(collectCap, C.sizeof_tw_tag_change))}
}

// NewNode creates a node (nothing connects before Start or Step).
func NewNode(o NodeOptions) (*Node, error) {
	co := (*C.tw_node_options)(C.calloc(1, C.sizeof_tw_node_options))
	defer C.free(unsafe.Pointer(co))
	co.version = C.TW_NODE_OPTIONS_VERSION
	var frees []*C.char
	s := func(v string) *C.char { c := cstr(v); frees = append(frees, c); return c }
	defer func() {
		for _, c := range frees {
			cfree(c)
		}
	}()
	co.group_id, co.edge_node_id, co.broker, co.client_id = s(o.GroupID), s(o.EdgeNodeID), s(o.Broker), s(o.ClientID)
	co.tls_ca_file, co.tls_cert_file, co.tls_key_file = s(o.TLSCAFile), s(o.TLSCertFile), s(o.TLSKeyFile)
	co.tls_server_name, co.credentials_dir, co.state_dir = s(o.TLSServerName), s(o.CredentialsDir), s(o.StateDir)
	co.primary_host_id = s(o.PrimaryHostID)
	if o.Insecure {
		co.insecure = 1
	}
	co.publish_interval_ms, co.shutdown_timeout_ms = C.uint32_t(o.PublishIntervalMs), C.uint32_t(o.ShutdownTimeoutMs)
	var p *C.tw_node
	if err := newCall(func() C.tw_status { return C.tw_node_new(&p, co) }); err != nil {
		return nil, err
	}
	n := &Node{p: p}
	n.tags = borrowTagSet(C.tw_node_tagset(p))
	runtime.SetFinalizer(n, (*Node).Close)
	return n, nil
}

// Close stops the node if it runs (flush, NDEATH) and frees it.
func (n *Node) Close() error {
	if n.p == nil {
		return nil
	}
	if n.started {
		C.tw_node_stop(n.p)
	}
	C.tw_node_free(n.p)
	n.p = nil
	n.tags.detach()
	runtime.SetFinalizer(n, nil)
	return nil
}

func (n *Node) check(st C.tw_status) error {
	defer runtime.KeepAlive(n)
	return newErr(st, C.GoString(C.tw_node_last_error(n.p)))
}

// Tags is the node's own tag set (NBIRTH/NDATA metrics).
func (n *Node) Tags() *TagSet { return n.tags }

// AddTag adds a node-level tag set by the application.
func (n *Node) AddTag(name string, typ Type, opts *TagOptions) (*Tag, error) {
	o, free := tagOptions(opts)
	defer free()
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var tp *C.tw_tag
	if err := n.check(C.tw_node_add_tag(n.p, &tp, cn, C.tw_type(typ), o)); err != nil {
		return nil, err
	}
	return n.tags.wrap(tp), nil
}

// AddDevice adds a Sparkplug device; adapterURI "" for a device whose values the application pushes.
func (n *Node) AddDevice(id, adapterURI string) (*NodeDevice, error) {
	o := (*C.tw_node_device_options)(C.calloc(1, C.sizeof_tw_node_device_options))
	defer C.free(unsafe.Pointer(o))
	o.version = C.TW_NODE_DEVICE_OPTIONS_VERSION
	o.device.version = C.TW_DEVICE_OPTIONS_VERSION
	o.adapter_uri = cstr(adapterURI)
	defer cfree(o.adapter_uri)
	ci := C.CString(id)
	defer C.free(unsafe.Pointer(ci))
	var dp *C.tw_node_device
	if st := C.tw_node_add_device(n.p, &dp, ci, o); st != C.TW_OK {
		return nil, newErr(st, C.GoString(C.tw_node_last_error(n.p)))
	}
	runtime.KeepAlive(n)
	return &NodeDevice{n: n, p: dp, Tags: borrowTagSet(C.tw_node_device_tagset(dp))}, nil
}

// AddTag adds a device tag: pushed (address "") or polled from the adapter every scanRateMs.
func (d *NodeDevice) AddTag(name string, typ Type, opts *TagOptions, address string, scanRateMs uint32) (*Tag, error) {
	o, free := tagOptions(opts)
	defer free()
	cn, ca := C.CString(name), cstr(address)
	defer C.free(unsafe.Pointer(cn))
	defer cfree(ca)
	var tp *C.tw_tag
	if err := d.n.check(C.tw_node_device_add_tag(d.p, &tp, cn, C.tw_type(typ), o, ca, C.uint32_t(scanRateMs))); err != nil {
		return nil, err
	}
	return d.Tags.wrap(tp), nil
}

// Start runs the node on its own thread.
func (n *Node) Start() error {
	err := n.check(C.tw_node_start(n.p))
	n.started = err == nil
	return err
}

// Stop stops the node's thread (flush, NDEATH, disconnect).
func (n *Node) Stop() error {
	n.started = false
	return n.check(C.tw_node_stop(n.p))
}

// Step drives the node from the caller's loop for up to timeoutMs.
func (n *Node) Step(timeoutMs int) error { return n.check(C.tw_node_step(n.p, C.int(timeoutMs))) }

// Flush steps the node until everything pending is published, or ctx is done.
func (n *Node) Flush(ctx context.Context) error {
	for {
		st := C.tw_node_flush(n.p, 100)
		if st != C.TW_ERR_TIMEOUT {
			return n.check(st)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Stats returns the node's counters.
func (n *Node) Stats() (NodeStats, error) {
	s := (*C.tw_node_stats)(C.calloc(1, C.sizeof_tw_node_stats))
	defer C.free(unsafe.Pointer(s))
	s.version = C.TW_NODE_STATS_VERSION
	if err := n.check(C.tw_node_stats_get(n.p, s)); err != nil {
		return NodeStats{}, err
	}
	return NodeStats{Online: s.link == C.TW_NODE_LINK_ONLINE, Connects: uint64(s.connects),
		MessagesPublished: uint64(s.messages_published), Births: uint64(s.births),
		MetricsPublished: uint64(s.metrics_published), Polls: uint64(s.polls), PollErrors: uint64(s.poll_errors),
		Commands: uint64(s.commands), QueueDepth: uint64(s.queue_depth), DeviceWrites: uint64(s.device_writes),
		StoreRecords: uint64(s.store_records), StoreBytes: uint64(s.store_bytes),
		StoreDropped: uint64(s.store_dropped), StoreRefused: uint64(s.store_refused),
		StoreAckedSeq: uint64(s.store_acked_seq), StoreLastSeq: uint64(s.store_last_seq),
		CertNotAfter: int64(s.cert_not_after), CertRenewAt: int64(s.cert_renew_at),
		CertRenewals: uint64(s.cert_renewals), CertRenewFailures: uint64(s.cert_renew_failures)}, nil
}
