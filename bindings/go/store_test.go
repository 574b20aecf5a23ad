package tagwire

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s, err := OpenStore(StoreOptions{Dir: dir, SyncBatch: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if seq, err := s.Append([]byte(fmt.Sprintf("rec %d", i))); err != nil || seq != uint64(i+1) {
			t.Fatal(seq, err)
		}
	}
	s.Sync()
	s.Ack(20)
	s.StateSetU64("bdSeq", 3)
	if _, err := OpenStore(StoreOptions{Dir: dir}); !errors.Is(err, ErrStoreLocked) {
		t.Fatalf("second open: %v", err)
	}
	s.Close()
	ro, err := OpenStore(StoreOptions{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	r, err := ro.Read()
	if err != nil || r.Seq != 21 || string(r.Data) != "rec 20" {
		t.Fatalf("%+v %v", r, err)
	}
	st, _ := ro.Stats()
	if st.Records != 30 || st.AckedSeq != 20 {
		t.Fatalf("%+v", st)
	}
	if v, err := ro.StateGetU64("bdSeq"); err != nil || v != 3 {
		t.Fatal(v, err)
	}
	if _, err := ro.Append([]byte("x")); !errors.Is(err, ErrBusy) {
		t.Fatal(err)
	}
}

// A failing constructor's error carries the thread's tw_last_error(): module, directory, reason.
func TestStoreOpenErrorNamesTheProblem(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(blocker, "spool") // its parent is a regular file: it cannot be created
	_, err := OpenStore(StoreOptions{Dir: bad})
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("want *Error, got %v", err)
	}
	for _, want := range []string{": store: dir '" + bad + "': cannot create: ", "Not a directory"} {
		if !strings.Contains(te.Msg, want) {
			t.Fatalf("%q does not contain %q", te.Msg, want)
		}
	}
	_, err = NewNode(NodeOptions{GroupID: "G", EdgeNodeID: "E", Broker: "mqtt://127.0.0.1:1"})
	if !errors.Is(err, ErrTLSInsecure) ||
		!strings.Contains(err.Error(), "node: broker 'mqtt://127.0.0.1:1': plaintext mqtt:// needs the insecure option") {
		t.Fatalf("NewNode: %v", err)
	}
}
