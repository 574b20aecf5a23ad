package tagwire

import (
	"errors"
	"fmt"
	"path/filepath"
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
