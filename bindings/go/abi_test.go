package tagwire

import "testing"

// The log levels follow the renumbered header (TW_LOG_DEFAULT = 0, ERROR..TRACE = 1..5).
func TestLogLevelsFollowTheHeader(t *testing.T) {
	want := map[LogLevel]string{LogDefault: "default", LogError: "error", LogWarn: "warn",
		LogInfo: "info", LogDebug: "debug", LogTrace: "trace"}
	for l, name := range want {
		if l.String() != name {
			t.Errorf("level %d is %q, want %q", int(l), l.String(), name)
		}
	}
	if LogDefault != 0 || LogError != 1 || LogTrace != 5 {
		t.Fatalf("numbering: %d %d %d", LogDefault, LogError, LogTrace)
	}
	if MQTTKeepAliveOff != 0xFFFF {
		t.Fatalf("MQTTKeepAliveOff = %d", MQTTKeepAliveOff)
	}
}
