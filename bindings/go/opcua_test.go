package tagwire

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestOPCUA(t *testing.T) {
	py := "/opt/tagwire-deps/opcua/venv/bin/python"
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("asyncua venv missing (scripts/deps/opcua.sh): %v", err)
	}
	port := freePort(t)
	cmd := exec.Command(py, filepath.Join(sourceDir(t), "tests", "opcua", "ua_server.py"), strconv.Itoa(port), "none", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !listening(port) {
		if time.Now().After(deadline) {
			t.Fatal("OPC UA server did not listen")
		}
		time.Sleep(50 * time.Millisecond)
	}
	uri := "opcua://127.0.0.1:" + strconv.Itoa(port) + "/tagwire?security=none"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	refs, err := BrowseOPCUA(ctx, uri, "")
	if err != nil || len(refs) == 0 {
		t.Fatal(refs, err)
	}
	dev, err := OpenDevice(uri, &DeviceOptions{TimeoutMs: 3000})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	temp, _ := dev.AddItem("ns=2;s=Line1.Press7.Temp")
	if err := dev.Write(ctx, temp, 42.25); err != nil {
		t.Fatal(err)
	}
	if s, err := dev.Read(ctx, temp); err != nil || s[0].Value.(float64) != 42.25 {
		t.Fatal(s, err)
	}
}
