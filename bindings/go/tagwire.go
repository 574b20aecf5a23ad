// Package tagwire binds the tagwire C SDK (factory data connectivity: tags, protocol adapters,
// Modbus, Sparkplug B, mutual TLS, MQTT, EST enrollment) for Go through cgo.
//
// Objects own C memory: call Close when done (a finalizer frees what is forgotten). Errors are
// *Error values carrying the C status code, its name and message; compare them with errors.Is
// against the sentinels (ErrTimeout, ErrTLSUnknownCA, ...). The library is initialised when the
// package is loaded.
package tagwire

/*
#cgo pkg-config: tagwire
#include "twgo.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Status is a tw_status code: 0 for success, negative for an error.
type Status int

// Error is a failed tagwire call: the status code, its symbolic name (e.g. "TW_ERR_TIMEOUT") and
// a message made of tw_strerror() and the handle's last error.
type Error struct {
	Code Status
	Name string
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("tagwire: %s (%s)", e.Msg, e.Name) }

// Is reports whether target is an *Error with the same code (so errors.Is(err, ErrTimeout) works).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Family is the module range of the code: "core", "tls", "mqtt", "adapter", "sparkplug",
// "store", "enroll" or "node".
func (e *Error) Family() string { return family(e.Code) }

func family(c Status) string {
	switch {
	case c <= -100 && c > -150:
		return "tls"
	case c <= -150 && c > -200:
		return "mqtt"
	case c <= -200 && c > -250:
		return "adapter"
	case c <= -250 && c > -300:
		return "sparkplug"
	case c <= -300 && c > -350:
		return "store"
	case c <= -350 && c > -400:
		return "enroll"
	case c <= -400 && c > -450:
		return "node"
	}
	return "core"
}

// StatusName is tw_status_name(c).
func StatusName(c Status) string { return C.GoString(C.tw_status_name(C.tw_status(c))) }

// StatusText is tw_strerror(c).
func StatusText(c Status) string { return C.GoString(C.tw_strerror(C.tw_status(c))) }

func sentinel(c C.tw_status) *Error {
	return &Error{Code: Status(c), Name: C.GoString(C.tw_status_name(c)), Msg: C.GoString(C.tw_strerror(c))}
}

// NewError makes an *Error for a code with a detail message (e.g. to refuse a write callback).
func NewError(code Status, detail string) *Error {
	e := sentinel(C.tw_status(code))
	if detail != "" {
		e.Msg += ": " + detail
	}
	return e
}

// Sentinel errors, one per status code, for errors.Is.
var (
	ErrGeneric        = sentinel(C.TW_ERR_GENERIC)
	ErrNoMem          = sentinel(C.TW_ERR_NOMEM)
	ErrInvalidArg     = sentinel(C.TW_ERR_INVALID_ARG)
	ErrNotInitialized = sentinel(C.TW_ERR_NOT_INITIALIZED)
	ErrNotFound       = sentinel(C.TW_ERR_NOT_FOUND)
	ErrExists         = sentinel(C.TW_ERR_EXISTS)
	ErrTypeMismatch   = sentinel(C.TW_ERR_TYPE_MISMATCH)
	ErrRange          = sentinel(C.TW_ERR_RANGE)
	ErrBusy           = sentinel(C.TW_ERR_BUSY)
	ErrAgain          = sentinel(C.TW_ERR_AGAIN)
	ErrTimeout        = sentinel(C.TW_ERR_TIMEOUT)
	ErrIO             = sentinel(C.TW_ERR_IO)
	ErrClosed         = sentinel(C.TW_ERR_CLOSED)
	ErrUnsupported    = sentinel(C.TW_ERR_UNSUPPORTED)
	ErrVersion        = sentinel(C.TW_ERR_VERSION)
	ErrParse          = sentinel(C.TW_ERR_PARSE)
	ErrConfig         = sentinel(C.TW_ERR_CONFIG)
	ErrProtocol       = sentinel(C.TW_ERR_PROTOCOL)
	ErrFull           = sentinel(C.TW_ERR_FULL)
	ErrConnRefused    = sentinel(C.TW_ERR_CONN_REFUSED)
	ErrResolve        = sentinel(C.TW_ERR_RESOLVE)
	ErrNoSpace        = sentinel(C.TW_ERR_NO_SPACE)
	ErrCorrupt        = sentinel(C.TW_ERR_CORRUPT)
	ErrCancelled      = sentinel(C.TW_ERR_CANCELLED)
	ErrPermission     = sentinel(C.TW_ERR_PERMISSION)
	ErrUnreachable    = sentinel(C.TW_ERR_UNREACHABLE)

	ErrTLS                = sentinel(C.TW_ERR_TLS)
	ErrTLSUnknownCA       = sentinel(C.TW_ERR_TLS_UNKNOWN_CA)
	ErrTLSCertExpired     = sentinel(C.TW_ERR_TLS_CERT_EXPIRED)
	ErrTLSCertNotYetValid = sentinel(C.TW_ERR_TLS_CERT_NOT_YET_VALID)
	ErrTLSHostname        = sentinel(C.TW_ERR_TLS_HOSTNAME)
	ErrTLSPin             = sentinel(C.TW_ERR_TLS_PIN)
	ErrTLSRevoked         = sentinel(C.TW_ERR_TLS_REVOKED)
	ErrTLSPeerRefused     = sentinel(C.TW_ERR_TLS_PEER_REFUSED)
	ErrTLSVersion         = sentinel(C.TW_ERR_TLS_VERSION)
	ErrTLSWeakKey         = sentinel(C.TW_ERR_TLS_WEAK_KEY)
	ErrTLSCredentials     = sentinel(C.TW_ERR_TLS_CREDENTIALS)
	ErrTLSInsecure        = sentinel(C.TW_ERR_TLS_INSECURE)
	ErrTLSBadCert         = sentinel(C.TW_ERR_TLS_BAD_CERT)
	ErrTLSHandshake       = sentinel(C.TW_ERR_TLS_HANDSHAKE)
	ErrTLSCRL             = sentinel(C.TW_ERR_TLS_CRL)

	ErrMQTTRefused         = sentinel(C.TW_ERR_MQTT_REFUSED)
	ErrMQTTNotAuthorized   = sentinel(C.TW_ERR_MQTT_NOT_AUTHORIZED)
	ErrMQTTMalformed       = sentinel(C.TW_ERR_MQTT_MALFORMED)
	ErrMQTTTooLarge        = sentinel(C.TW_ERR_MQTT_TOO_LARGE)
	ErrMQTTSubscribeFailed = sentinel(C.TW_ERR_MQTT_SUBSCRIBE_FAILED)
	ErrMQTTKeepalive       = sentinel(C.TW_ERR_MQTT_KEEPALIVE)
	ErrMQTTNotConnected    = sentinel(C.TW_ERR_MQTT_NOT_CONNECTED)
	ErrMQTTInflightFull    = sentinel(C.TW_ERR_MQTT_INFLIGHT_FULL)
	ErrMQTTRejected        = sentinel(C.TW_ERR_MQTT_REJECTED)

	ErrModbusException = sentinel(C.TW_ERR_MODBUS_EXCEPTION)
	ErrAddress         = sentinel(C.TW_ERR_ADDRESS)
	ErrAdapter         = sentinel(C.TW_ERR_ADAPTER)
	ErrNoAdapter       = sentinel(C.TW_ERR_NO_ADAPTER)
	ErrCRC             = sentinel(C.TW_ERR_CRC)

	ErrSparkplug       = sentinel(C.TW_ERR_SPARKPLUG)
	ErrSparkplugDecode = sentinel(C.TW_ERR_SPARKPLUG_DECODE)
	ErrSparkplugTopic  = sentinel(C.TW_ERR_SPARKPLUG_TOPIC)

	ErrStore       = sentinel(C.TW_ERR_STORE)
	ErrStoreLocked = sentinel(C.TW_ERR_STORE_LOCKED)

	ErrEST            = sentinel(C.TW_ERR_EST)
	ErrESTAuth        = sentinel(C.TW_ERR_EST_AUTH)
	ErrESTRetryLater  = sentinel(C.TW_ERR_EST_RETRY_LATER)
	ErrESTBadResponse = sentinel(C.TW_ERR_EST_BAD_RESPONSE)
	ErrESTKeyMismatch = sentinel(C.TW_ERR_EST_KEY_MISMATCH)
	ErrHTTP           = sentinel(C.TW_ERR_HTTP)
	ErrIdentity       = sentinel(C.TW_ERR_IDENTITY)
	ErrESTServer      = sentinel(C.TW_ERR_EST_SERVER)

	ErrNodeState = sentinel(C.TW_ERR_NODE_STATE)
)

// newErr returns nil for TW_OK, else an *Error with the handle's detail appended.
func newErr(st C.tw_status, detail string) error {
	if st == C.TW_OK {
		return nil
	}
	return NewError(Status(st), detail)
}

func errOf(st C.tw_status) error { return newErr(st, "") }

// newCall runs a constructor (or a call without a handle) locked to one OS thread, so that the
// thread's tw_last_error() read right after it is the call's own; a failure's error carries that
// message ("<module>: <detail>", naming the option, file or reason).
func newCall(f func() C.tw_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if st := f(); st != C.TW_OK {
		return newErr(st, C.GoString(C.tw_last_error()))
	}
	return nil
}

// ---- library, version, features ------------------------------------------------------------------

func init() {
	if st := C.tw_init(nil); st != C.TW_OK {
		panic(NewError(Status(st), "tw_init"))
	}
}

// HeaderVersion is the version of the headers the binding was compiled against.
const HeaderVersion = C.TW_VERSION_STRING

// Version returns the loaded library's version as major, minor, patch.
func Version() (major, minor, patch int) {
	v := uint32(C.tw_version())
	return int(v>>16) & 0xff, int(v>>8) & 0xff, int(v) & 0xff
}

// VersionString is the loaded library's version string.
func VersionString() string { return C.GoString(C.tw_version_string()) }

// Features lists the optional parts built into the library ("tls", "mqtt", "modbus", ...).
func Features() []string {
	bits := uint32(C.tw_features())
	var out []string
	for i := 0; i < 32; i++ {
		if bits&(1<<i) != 0 {
			if p := C.tw_feature_name(C.uint32_t(1 << i)); p != nil {
				out = append(out, C.GoString(p))
			}
		}
	}
	return out
}

// NowNs is tagwire's wall clock in ns since the Unix epoch.
func NowNs() int64 { return int64(C.tw_now_ns()) }

// LogLevel is a log verbosity level.
type LogLevel int

const (
	LogDefault LogLevel = C.TW_LOG_DEFAULT // as a threshold: the default (warn)
	LogError   LogLevel = C.TW_LOG_ERROR
	LogWarn    LogLevel = C.TW_LOG_WARN
	LogInfo    LogLevel = C.TW_LOG_INFO
	LogDebug   LogLevel = C.TW_LOG_DEBUG
	LogTrace   LogLevel = C.TW_LOG_TRACE
)

func (l LogLevel) String() string { return C.GoString(C.tw_log_level_name(C.tw_log_level(l))) }

var logMu sync.Mutex
var logHandle cgo.Handle

// LogFunc receives library log messages; it runs on the thread that logged (possibly several at
// once) and must not call back into tagwire.
type LogFunc func(level LogLevel, module, message string)

// SetLog installs fn as the log hook for messages at or above level (nil restores stderr).
func SetLog(fn LogFunc, level LogLevel) {
	logMu.Lock()
	defer logMu.Unlock()
	var h cgo.Handle
	if fn != nil {
		h = cgo.NewHandle(fn)
	}
	C.twgo_set_log(C.uintptr_t(h), C.tw_log_level(level))
	if logHandle != 0 {
		logHandle.Delete()
	}
	logHandle = h
}

//export twgoLog
func twgoLog(level C.int, module, message *C.char, h C.uintptr_t) {
	defer func() { _ = recover() }() // a panicking hook must not unwind through C
	cgo.Handle(h).Value().(LogFunc)(LogLevel(level), C.GoString(module), C.GoString(message))
}

//export twgoHandleDelete
func twgoHandleDelete(h C.uintptr_t) {
	if h != 0 {
		cgo.Handle(h).Delete()
	}
}

func cstr(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

func cfree(p *C.char) {
	if p != nil {
		C.free(unsafe.Pointer(p))
	}
}

func writeErr(err error, buf *C.char, n C.size_t) {
	if n == 0 || buf == nil {
		return
	}
	msg := err.Error()
	if e, ok := err.(*Error); ok {
		msg = e.Msg
	}
	b := []byte(msg)
	if len(b) > int(n)-1 {
		b = b[:int(n)-1]
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	copy(dst, b)
	dst[len(b)] = 0
}

func statusOf(err error) C.tw_status {
	if err == nil {
		return C.TW_OK
	}
	if e, ok := err.(*Error); ok {
		return C.tw_status(e.Code)
	}
	return C.TW_ERR_GENERIC
}
