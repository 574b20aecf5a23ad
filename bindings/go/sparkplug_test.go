package tagwire

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// The default client id is the library's rule: "<group>-<node>" when short and plain, else a
// stable 23-byte id ending in the SHA-256 of "<group>/<node>" (computed here independently).
func TestSparkplugDefaultClientID(t *testing.T) {
	if id, err := SparkplugDefaultClientID("PlantA", "Press7"); err != nil || id != "PlantA-Press7" {
		t.Fatalf("short id: %q %v", id, err)
	}
	sum := sha256.Sum256([]byte("PlantA/Line 2 Press 7"))
	want := "PlantA-Lin-" + hex.EncodeToString(sum[:])[:12]
	if id, err := SparkplugDefaultClientID("PlantA", "Line 2 Press 7"); err != nil || id != want || len(id) != 23 {
		t.Fatalf("shortened id: %q %v, want %q", id, err, want)
	}
	if _, err := SparkplugDefaultClientID("", "E"); err == nil {
		t.Fatal("empty group id accepted")
	}
}
