package tagwire

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Test environment (set by tests/bindings/go_test.sh): TW_MBSERVER, TAGWIRE_SOURCE_DIR.
// A missing peer fails the test; it does not skip.

func requireEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("environment variable %s is not set (run through ctest)", name)
	}
	return v
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// listening reads /proc/net/tcp{,6} for a LISTEN socket on port (without connecting).
func listening(port int) bool {
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Scan()
		for sc.Scan() {
			parts := strings.Fields(sc.Text())
			if len(parts) > 3 && parts[3] == "0A" {
				i := strings.LastIndex(parts[1], ":")
				if p, err := strconv.ParseInt(parts[1][i+1:], 16, 32); err == nil && int(p) == port {
					fh.Close()
					return true
				}
			}
		}
		fh.Close()
	}
	return false
}

func startPeer(t *testing.T, port int, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !listening(port) {
		select {
		case <-done:
			t.Fatalf("%s exited before listening", name)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %d", name, port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startMbserver(t *testing.T) int {
	exe := requireEnv(t, "TW_MBSERVER")
	port := freePort(t)
	startPeer(t, port, exe, "--port", strconv.Itoa(port))
	return port
}

func sourceDir(t *testing.T) string { return requireEnv(t, "TAGWIRE_SOURCE_DIR") }

func makePKI(t *testing.T) string {
	dir := t.TempDir()
	out, err := exec.Command("sh", filepath.Join(sourceDir(t), "tests", "fixtures", "make_pki.sh"), dir).CombinedOutput()
	if err != nil {
		t.Fatalf("make_pki: %v %s", err, out)
	}
	return dir
}

func startMosquitto(t *testing.T, pki string) int {
	port, _ := startMosquittoLog(t, pki)
	return port
}

// startMosquittoLog starts Mosquitto with a mutual-TLS listener; returns its port and log file.
func startMosquittoLog(t *testing.T, pki string) (int, string) {
	exe, err := exec.LookPath("mosquitto")
	if err != nil {
		exe = "/usr/sbin/mosquitto"
	}
	port := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	logPath := filepath.Join(dir, "mosquitto.log")
	text := fmt.Sprintf("listener %d 127.0.0.1\nuser root\npersistence false\nmax_queued_messages 0\n"+
		"allow_anonymous true\nrequire_certificate true\nuse_identity_as_username true\n"+
		"cafile %s/ca.pem\ncertfile %s/server.pem\nkeyfile %s/server.key\n"+
		"log_dest file %s\nlog_type all\n", port, pki, pki, pki, logPath)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	startPeer(t, port, exe, "-c", conf)
	return port, logPath
}

func itoa(n int) string { return strconv.Itoa(n) }

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func rssKiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
