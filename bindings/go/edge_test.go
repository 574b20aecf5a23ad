package tagwire

import (
	"context"
	"testing"
	"time"
)

func TestEdgeSession(t *testing.T) {
	pki := makePKI(t)
	port := startMosquitto(t, pki)
	cfg, err := NewTLSConfig(pki+"/ca.pem", pki+"/client.pem", pki+"/client.key", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Close()
	store, _ := OpenStore(StoreOptions{})
	defer store.Close()
	nodeTags, _ := NewTagSet()
	defer nodeTags.Close()
	drive, _ := NewTagSet()
	defer drive.Close()
	up, _ := nodeTags.Add("Uptime", TypeUint64, nil)
	up.Set(uint64(5), QualityGood, 0)
	rpm, _ := drive.Add("Rpm", TypeDouble, nil)
	rpm.SetDouble(1200)
	e, err := NewEdge(EdgeOptions{GroupID: "PlantA", EdgeNodeID: "GoEdge", Host: "127.0.0.1", Port: uint16(port), TLS: cfg, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.SetNodeTags(nodeTags); err != nil {
		t.Fatal(err)
	}
	if err := e.AddDevice("Drive", drive); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.WaitOnline(ctx); err != nil {
		t.Fatal(err, e.State())
	}
	rpm.SetDouble(1300)
	e.Publish()
	e.Step(50 * time.Millisecond)
	st, _ := e.Stats()
	if st.Births < 2 || st.MetricsPublished < 1 || st.Connects != 1 {
		t.Fatalf("%+v", st)
	}
	if err := e.Stop(15 * time.Second); err != nil || e.State() != EdgeStopped || EdgeOnline.String() != "online" {
		t.Fatal(err, e.State())
	}
}
