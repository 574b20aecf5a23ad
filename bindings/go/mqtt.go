package tagwire

/*
#include "twgo.h"
*/
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"time"
	"unsafe"
)

// TLSConfig holds the trust policy and own credentials of mutual-TLS transports.
type TLSConfig struct{ p *C.tw_tls_config }

// NewTLSConfig creates a config with CA file, client certificate chain and key (PEM files), and
// the name the server's certificate must match ("" = the host connected to).
func NewTLSConfig(caFile, certFile, keyFile, serverName string) (*TLSConfig, error) {
	var p *C.tw_tls_config
	if err := newCall(func() C.tw_status { return C.tw_tls_config_new(&p) }); err != nil {
		return nil, err
	}
	c := &TLSConfig{p: p}
	runtime.SetFinalizer(c, (*TLSConfig).Close)
	last := func(st C.tw_status) error { return newErr(st, C.GoString(C.tw_tls_config_last_error(p))) }
	ca, cert, key, sn := C.CString(caFile), C.CString(certFile), C.CString(keyFile), cstr(serverName)
	defer C.free(unsafe.Pointer(ca))
	defer C.free(unsafe.Pointer(cert))
	defer C.free(unsafe.Pointer(key))
	defer cfree(sn)
	if err := last(C.tw_tls_config_set_ca_file(p, ca)); err != nil {
		c.Close()
		return nil, err
	}
	if err := last(C.tw_tls_config_set_credentials_file(p, cert, key, nil)); err != nil {
		c.Close()
		return nil, err
	}
	if sn != nil {
		if err := last(C.tw_tls_config_set_server_name(p, sn)); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Close drops the caller's reference (transports keep their own).
func (c *TLSConfig) Close() error {
	if c.p != nil {
		C.tw_tls_config_free(c.p)
		c.p = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

// MQTTKeepAliveOff in MQTTOptions.KeepAliveS disables the keep-alive (0 selects the default).
const MQTTKeepAliveOff = uint16(C.TW_MQTT_KEEPALIVE_OFF)

// MQTTOptions configure an MQTT session.
type MQTTOptions struct {
	Host        string
	Port        uint16
	ClientID    string
	KeepAliveS  uint16 // 0: the default (60 s); MQTTKeepAliveOff: no keep-alive
	Protocol    int    // 4 (3.1.1, default) or 5
	NoReconnect bool   // never reconnect automatically (call Connect again)
}

// MQTTMessage is an incoming PUBLISH.
type MQTTMessage struct {
	Topic   string
	Payload []byte
	QoS     int
	Retain  bool
}

// MQTTClient is an MQTT 3.1.1/5 session over mutual TLS (tw_mqtt_client). Driven by one
// goroutine: Step and the blocking calls run the callbacks.
type MQTTClient struct {
	p         *C.tw_mqtt_client
	h         cgo.Handle
	OnMessage func(MQTTMessage)
	OnAck     func(token uint64, err error)
	panicV    any
}

// NewMQTTClient creates a client that talks to the broker over a new TLS transport made from cfg.
func NewMQTTClient(cfg *TLSConfig, o MQTTOptions) (*MQTTClient, error) {
	var t *C.tw_transport
	if err := newCall(func() C.tw_status { return C.tw_transport_new_tls(&t, cfg.p, nil) }); err != nil {
		return nil, err
	}
	runtime.KeepAlive(cfg)
	co := (*C.tw_mqtt_options)(C.calloc(1, C.sizeof_tw_mqtt_options))
	defer C.free(unsafe.Pointer(co))
	co.version = C.TW_MQTT_OPTIONS_VERSION
	co.host = C.CString(o.Host)
	defer C.free(unsafe.Pointer(co.host))
	co.port = C.uint16_t(o.Port)
	co.client_id = cstr(o.ClientID)
	defer cfree(co.client_id)
	co.keep_alive_s = C.uint16_t(o.KeepAliveS) // 0 = default, 0xFFFF = off (TW_MQTT_KEEPALIVE_OFF)
	co.reconnect = C.TW_MQTT_RECONNECT_ON
	if o.NoReconnect {
		co.reconnect = C.TW_MQTT_RECONNECT_OFF
	}
	co.protocol_version = 4
	if o.Protocol != 0 {
		co.protocol_version = C.int(o.Protocol)
	}
	var p *C.tw_mqtt_client
	if err := newCall(func() C.tw_status { return C.tw_mqtt_client_new(&p, t, co) }); err != nil {
		C.tw_transport_free(t)
		return nil, err
	}
	c := &MQTTClient{p: p}
	c.h = cgo.NewHandle(c)
	C.twgo_mqtt_set_callbacks(p, C.uintptr_t(c.h))
	runtime.SetFinalizer(c, (*MQTTClient).Close)
	return c, nil
}

// Close frees the client (without DISCONNECT).
func (c *MQTTClient) Close() error {
	if c.p != nil {
		C.tw_mqtt_client_free(c.p)
		c.p = nil
		c.h.Delete()
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

func (c *MQTTClient) check(st C.tw_status) error {
	runtime.KeepAlive(c)
	if pv := c.panicV; pv != nil {
		c.panicV = nil
		panic(pv)
	}
	if st == C.TW_OK {
		return nil
	}
	return newErr(st, C.GoString(C.tw_mqtt_client_last_error(c.p)))
}

// Connect connects and waits for CONNACK until ctx is done.
func (c *MQTTClient) Connect(ctx context.Context) error {
	if err := c.check(C.tw_mqtt_client_connect(c.p)); err != nil {
		return err
	}
	for C.tw_mqtt_client_state(c.p) != C.TW_MQTT_CONNECTED {
		if err := ctx.Err(); err != nil {
			return err
		}
		st := C.tw_mqtt_client_step(c.p, 50)
		if st != C.TW_OK && st != C.TW_ERR_TIMEOUT {
			return c.check(st)
		}
		if err := c.check(C.TW_OK); err != nil {
			return err
		}
	}
	return nil
}

// Publish queues a PUBLISH and returns its token.
func (c *MQTTClient) Publish(topic string, payload []byte, qos int, retain bool) (uint64, error) {
	ct := C.CString(topic)
	defer C.free(unsafe.Pointer(ct))
	var ptr unsafe.Pointer
	if len(payload) > 0 {
		ptr = unsafe.Pointer(&payload[0])
	}
	r := C.int(0)
	if retain {
		r = 1
	}
	var tok C.uint64_t
	err := c.check(C.tw_mqtt_client_publish(c.p, ct, ptr, C.size_t(len(payload)), C.int(qos), r, &tok))
	return uint64(tok), err
}

// Subscribe queues a SUBSCRIBE and returns its token.
func (c *MQTTClient) Subscribe(filter string, qos int) (uint64, error) {
	cf := C.CString(filter)
	defer C.free(unsafe.Pointer(cf))
	var tok C.uint64_t
	err := c.check(C.tw_mqtt_client_subscribe(c.p, cf, C.int(qos), &tok))
	return uint64(tok), err
}

// Step drives the client for up to timeout.
func (c *MQTTClient) Step(timeout time.Duration) error {
	return c.check(C.tw_mqtt_client_step(c.p, C.int(timeout.Milliseconds())))
}

// Flush waits until every queued request is acknowledged, or ctx is done.
func (c *MQTTClient) Flush(ctx context.Context) error {
	for C.tw_mqtt_client_inflight(c.p) > 0 || C.tw_mqtt_client_pending_bytes(c.p) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.Step(50 * time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// Disconnect sends DISCONNECT and closes the connection.
func (c *MQTTClient) Disconnect(timeout time.Duration) error {
	return c.check(C.tw_mqtt_client_disconnect(c.p, C.int(timeout.Milliseconds())))
}

// Connected reports whether the session is connected.
func (c *MQTTClient) Connected() bool {
	defer runtime.KeepAlive(c)
	return C.tw_mqtt_client_state(c.p) == C.TW_MQTT_CONNECTED
}

// Secure reports whether the transport is TLS.
func (c *MQTTClient) Secure() bool {
	defer runtime.KeepAlive(c)
	return C.tw_transport_is_secure(C.tw_mqtt_client_transport(c.p)) != 0
}

func mqttOf(h C.uintptr_t) *MQTTClient { return cgo.Handle(h).Value().(*MQTTClient) }

//export twgoMqttMessage
func twgoMqttMessage(m *C.tw_mqtt_message, h C.uintptr_t) {
	c := mqttOf(h)
	defer func() {
		if r := recover(); r != nil {
			c.panicV = r
		}
	}()
	if c.OnMessage != nil {
		c.OnMessage(MQTTMessage{Topic: C.GoStringN(m.topic, C.int(m.topic_len)),
			Payload: C.GoBytes(m.payload, C.int(m.payload_len)), QoS: int(m.qos), Retain: m.retain != 0})
	}
}

//export twgoMqttAck
func twgoMqttAck(a *C.tw_mqtt_ack, h C.uintptr_t) {
	c := mqttOf(h)
	defer func() {
		if r := recover(); r != nil {
			c.panicV = r
		}
	}()
	if c.OnAck != nil {
		c.OnAck(uint64(a.token), errOf(a.status))
	}
}

//export twgoMqttState
func twgoMqttState(state, reason C.int, h C.uintptr_t) {}
