package tagwire

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHTTPSRecordRoundTrip(t *testing.T) {
	var rec []byte
	var err error
	rec, err = HTTPSRecordEncode(rec, "Temp", 21.5, QualityGood, 7)
	if err != nil {
		t.Fatal(err)
	}
	if rec[0] != 0x71 || Type(rec[1]) != TypeDouble || len(rec) != 20+4+8 {
		t.Fatalf("layout: % x", rec)
	}
	for _, c := range []struct {
		name string
		v    any
	}{{"u", uint64(1 << 63)}, {"s", "h\u00e9"}, {"b", []byte{0, 255}}, {"f", true}, {"none", nil}} {
		if rec, err = HTTPSRecordEncode(rec, c.name, c.v, QualityBad, 9); err != nil {
			t.Fatal(err)
		}
	}
	es, err := HTTPSRecordEntries(rec)
	if err != nil || len(es) != 6 {
		t.Fatalf("%v %v", es, err)
	}
	if es[0].Value != 21.5 || es[1].Value != uint64(1<<63) || es[2].Value != "h\u00e9" ||
		!bytes.Equal(es[3].Value.([]byte), []byte{0, 255}) || es[4].Value != true || es[5].Value != nil ||
		es[5].Type != TypeNone || es[1].Quality != QualityBad || es[0].TsNs != 7 {
		t.Fatalf("decoded %+v", es)
	}
	if _, err := HTTPSRecordEncode(nil, "", 1, QualityGood, 0); !errors.Is(err, ErrInvalidArg) {
		t.Fatalf("empty name: %v", err)
	}
	if _, err := HTTPSRecordEncode(nil, strings.Repeat("x", HTTPSNameMax+1), 1, QualityGood, 0); !errors.Is(err, ErrRange) {
		t.Fatalf("long name: %v", err)
	}
	if _, err := HTTPSRecordEntries(rec[:len(rec)-1]); !errors.Is(err, ErrParse) {
		t.Fatalf("truncated: %v", err)
	}
}

func TestHTTPSUplinkOptions(t *testing.T) {
	pki := makePKI(t)
	st, err := OpenStore(StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, o := range []HTTPSOptions{
		{URL: "http://127.0.0.1:1/x", CAFile: pki + "/ca.pem"},
		{URL: "https://127.0.0.1:1/x"},
		{URL: "https://127.0.0.1:1/x", CAFile: pki + "/ca.pem", OnReject: HTTPSRejectPark},
	} {
		if _, err := NewHTTPSUplink(st, o); !errors.Is(err, ErrConfig) {
			t.Fatalf("%+v: %v", o, err)
		}
	}
	u, err := NewHTTPSUplink(st, HTTPSOptions{URL: "https://127.0.0.1:1/x", CAFile: pki + "/ca.pem"})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if s, err := u.Step(0); err != nil || s != HTTPSIdle {
		t.Fatalf("%v %v", s, err)
	}
	if err := u.Release(false); !errors.Is(err, ErrBusy) {
		t.Fatalf("release when not held: %v", err)
	}
}

type receiverLine struct {
	Key, Ct, Ce, Records, Body string
	Status                     int
}

func TestHTTPSUplinkToReceiver(t *testing.T) {
	pki := makePKI(t)
	port := freePort(t)
	logPath := filepath.Join(t.TempDir(), "receiver.log")
	startPeer(t, port, "/usr/bin/python3", filepath.Join(sourceDir(t), "tests", "https", "receiver.py"),
		itoa(port), pki+"/server.pem", pki+"/server.key", pki+"/ca.pem", logPath)

	// one 503 first: the batch is retried under the same key
	cert, err := tls.LoadX509KeyPair(pki+"/client.pem", pki+"/client.key")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(pki + "/ca.pem")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/_ctl?fail=503&retry_after=0", port))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ctl: %v", err)
	}
	resp.Body.Close()

	st, err := OpenStore(StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < 12; i++ {
		rec, _ := HTTPSRecordEncode(nil, "Counter", uint64(i), QualityGood, int64(1000+i))
		rec, _ = HTTPSRecordEncode(rec, "Label", fmt.Sprintf("v%d", i), QualityGood, int64(1000+i))
		if _, err := st.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	u, err := NewHTTPSUplink(st, HTTPSOptions{URL: fmt.Sprintf("https://127.0.0.1:%d/ingest", port),
		CAFile: pki + "/ca.pem", CertFile: pki + "/client.pem", KeyFile: pki + "/client.key",
		Gzip: true, MaxBatchRecords: 5, BackoffBaseMs: 50, BackoffCapMs: 200, InstanceID: "go-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := u.Step(50)
		if err != nil {
			t.Fatal(err)
		}
		ss, _ := st.Stats()
		if s == HTTPSIdle && ss.Records == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained: state %d, %s", s, u.LastError())
		}
	}
	stats, err := u.Stats()
	if err != nil || stats.Batches != 3 || stats.Records != 12 || stats.Values != 24 ||
		stats.Failures != 1 || stats.Retries != 1 || stats.LastHTTPStatus != 200 {
		t.Fatalf("stats %+v %v", stats, err)
	}

	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []receiverLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l receiverLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 4 || lines[0].Status != 503 || lines[1].Status != 200 || lines[0].Key != lines[1].Key ||
		!strings.HasPrefix(lines[0].Key, "go-test-") {
		t.Fatalf("requests %+v", lines)
	}
	var counters []float64
	for _, l := range lines[1:] {
		if l.Ct != "application/x-ndjson" || l.Ce != "gzip" {
			t.Fatalf("headers %+v", l)
		}
		raw, _ := base64.StdEncoding.DecodeString(l.Body)
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(zr)
		for _, js := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(js), &m); err != nil {
				t.Fatal(err)
			}
			if m["name"] == "Counter" {
				counters = append(counters, m["value"].(float64))
			}
		}
	}
	if len(counters) != 12 || counters[0] != 0 || counters[11] != 11 {
		t.Fatalf("counters %v", counters)
	}
}

func TestHTTPSUplinkRejectHoldRelease(t *testing.T) {
	pki := makePKI(t)
	port := freePort(t)
	logPath := filepath.Join(t.TempDir(), "receiver.log")
	startPeer(t, port, "/usr/bin/python3", filepath.Join(sourceDir(t), "tests", "https", "receiver.py"),
		itoa(port), pki+"/server.pem", pki+"/server.key", pki+"/ca.pem", logPath)
	cert, _ := tls.LoadX509KeyPair(pki+"/client.pem", pki+"/client.key")
	caPEM, _ := os.ReadFile(pki + "/ca.pem")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/_ctl?fail=400", port))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("ctl: %v", err)
	}
	resp.Body.Close()

	st, _ := OpenStore(StoreOptions{})
	defer st.Close()
	rec, _ := HTTPSRecordEncode(nil, "A", 1.25, QualityGood, 1)
	st.Append(rec)
	type rej struct {
		status  int
		key     string
		body    []byte
		records uint64
	}
	var seen []rej
	u, err := NewHTTPSUplink(st, HTTPSOptions{URL: fmt.Sprintf("https://127.0.0.1:%d/ingest", port),
		CAFile: pki + "/ca.pem", CertFile: pki + "/client.pem", KeyFile: pki + "/client.key",
		OnRejectFn: func(s int, k string, b []byte, n uint64) { seen = append(seen, rej{s, k, b, n}) }})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	step := func(want HTTPSState) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			s, err := u.Step(50)
			if err != nil {
				t.Fatal(err)
			}
			ss, _ := st.Stats()
			if s == want && (want != HTTPSIdle || ss.Records == 0) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("state %d, want %d (%s)", s, want, u.LastError())
			}
		}
	}
	step(HTTPSHeld)
	if len(seen) != 1 || seen[0].status != 400 || seen[0].records != 1 || !strings.Contains(string(seen[0].body), `"value":1.25`) {
		t.Fatalf("reject callback: %+v", seen)
	}
	if ss, _ := st.Stats(); ss.Records != 1 {
		t.Fatalf("the held batch left the store")
	}
	if err := u.Release(false); err != nil {
		t.Fatal(err)
	}
	step(HTTPSIdle)
	if stats, _ := u.Stats(); stats.Batches != 1 || stats.RejectedBatches != 0 {
		t.Fatalf("stats %+v", stats)
	}
}
