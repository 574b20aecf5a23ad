package tagwire

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestVersionFeatures(t *testing.T) {
	maj, min, pat := Version()
	if got := fmt.Sprintf("%d.%d.%d", maj, min, pat); got != VersionString() || got != HeaderVersion {
		t.Fatalf("version %s vs %s vs %s", got, VersionString(), HeaderVersion)
	}
	f := strings.Join(Features(), ",")
	if !strings.Contains(f, "tls") || !strings.Contains(f, "modbus") {
		t.Fatalf("features %s", f)
	}
	if d := NowNs() - time.Now().UnixNano(); d > 5e9 || d < -5e9 {
		t.Fatalf("clock off by %d", d)
	}
}

func TestErrorsIsAndFamilies(t *testing.T) {
	ts, _ := NewTagSet()
	defer ts.Close()
	tag, err := ts.Add("A", TypeUint8, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = tag.Set(300, QualityGood, 0)
	var e *Error
	if !errors.Is(err, ErrRange) || !errors.As(err, &e) || e.Name != "TW_ERR_RANGE" || e.Family() != "core" {
		t.Fatalf("got %v", err)
	}
	if errors.Is(err, ErrTimeout) {
		t.Fatal("matches the wrong sentinel")
	}
	_, err = ts.Add("A", TypeDouble, nil)
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "A") {
		t.Fatalf("got %v", err)
	}
	if NewError(Status(ErrTLSUnknownCA.Code), "x").Family() != "tls" || ErrMQTTRefused.Family() != "mqtt" ||
		ErrModbusException.Family() != "adapter" || ErrNodeState.Family() != "node" {
		t.Fatal("families")
	}
	if err := ValidateName("a//b"); !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), "byte 2") {
		t.Fatalf("got %v", err)
	}
	if v, err := Convert(3.5, TypeInt32); err != nil || v.(int64) != 4 {
		t.Fatalf("convert %v %v", v, err)
	}
	if eq, _ := ValuesEqual(math.NaN(), math.NaN()); !eq {
		t.Fatal("NaN")
	}
}

func TestTagsAndChangeSets(t *testing.T) {
	ts, err := NewTagSet()
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	oil, _ := ts.Add("Hydraulics/OilTemp", TypeDouble, &TagOptions{Unit: "degC", Deadband: 0.5, Min: 0, Max: 150})
	cnt, _ := ts.Add("Counters/Strokes", TypeUint64, nil)
	st, _ := ts.Add("State", TypeString, &TagOptions{MaxLen: 16})
	dt, _ := ts.Add("When", TypeDatetime, nil)
	if ts.Len() != 4 || !ts.Find("State").Same(st) || !ts.FindAlias(oil.Alias()).Same(oil) || oil.Unit() != "degC" {
		t.Fatal("lookup/metadata")
	}
	oil.Set(20.0, QualityGood, 0)
	oil.Set(20.4, QualityGood, 0) // inside the deadband
	cnt.Set(uint64(math.MaxUint64), QualityGood, 0)
	st.Set("RUNNING", QualityGood, 0)
	when := time.Unix(1764400000, 5).UTC()
	dt.Set(when, QualityGood, 0)
	ch, err := ts.Collect()
	if err != nil || len(ch) != 4 {
		t.Fatalf("collect %v %v", ch, err)
	}
	by := map[string]Change{}
	for _, c := range ch {
		by[c.Tag.Name()] = c
	}
	if by["Hydraulics/OilTemp"].Value.(float64) != 20.0 || by["Counters/Strokes"].Value.(uint64) != math.MaxUint64 ||
		by["State"].Value.(string) != "RUNNING" || !by["When"].Value.(time.Time).Equal(when) {
		t.Fatalf("values %+v", by)
	}
	if b, _ := st.Bytes(); string(b) != "RUNNING" {
		t.Fatal("bytes")
	}
	if err := st.Set("much too long for it", QualityGood, 0); !errors.Is(err, ErrRange) {
		t.Fatal(err)
	}
	if s, _ := oil.Get(); s.Value.(float64) != 20.0 || !s.Quality.IsGood() {
		t.Fatal("get")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ts.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait: %v", err)
	}
	go func() { time.Sleep(20 * time.Millisecond); oil.SetDouble(30) }()
	if err := ts.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.Close()
	if err := oil.SetDouble(1); !errors.Is(err, ErrClosed) {
		t.Fatal("closed set")
	}
}

func TestWriteCallbacks(t *testing.T) {
	ts, _ := NewTagSet()
	defer ts.Close()
	sp, _ := ts.Add("Setpoint", TypeDouble, &TagOptions{Access: AccessReadWrite, Min: 0, Max: 100})
	ro, _ := ts.Add("RO", TypeDouble, nil)
	var got []any
	sp.SetWriteCallback(func(tag *Tag, v any) error { got = append(got, v); return tag.Set(v, QualityGood, 0) })
	if err := sp.Write(42); err != nil || len(got) != 1 || got[0].(float64) != 42 {
		t.Fatalf("%v %v", err, got)
	}
	if err := sp.Write(1000); !errors.Is(err, ErrRange) {
		t.Fatal(err)
	}
	if err := ro.Write(1.0); !errors.Is(err, ErrPermission) {
		t.Fatal(err)
	}
	sp.SetWriteCallback(func(*Tag, any) error { return NewError(Status(ErrBusy.Code), "machine busy") })
	if err := sp.Write(5); !errors.Is(err, ErrBusy) {
		t.Fatal(err)
	}
	sp.SetWriteCallback(nil)
	ts.SetWriteCallback(func(*Tag, any) error { panic("boom in callback") })
	func() {
		defer func() {
			if r := recover(); r != "boom in callback" {
				t.Fatalf("panic not carried back: %v", r)
			}
		}()
		sp.Write(5)
	}()
	notified := 0
	ts.SetNotify(func(*TagSet) { notified++ })
	ts.Collect()
	sp.SetDouble(7)
	if notified != 1 {
		t.Fatal("notify")
	}
}

func TestConcurrentSetsFrom8Goroutines(t *testing.T) {
	const G, N = 8, 20000
	ts, _ := NewTagSet()
	defer ts.Close()
	own := make([]*Tag, G)
	for i := range own {
		own[i], _ = ts.Add(fmt.Sprintf("Own/%d", i), TypeInt64, nil)
	}
	shared, _ := ts.Add("Shared", TypeInt64, &TagOptions{ReportEverySample: true})
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, G)
	for g := 0; g < G; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-start
			for i := 1; i <= N; i++ {
				if err := own[g].SetInt(int64(i)); err != nil {
					errs <- err
					return
				}
				if err := shared.SetInt(int64(g*N + i)); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ch, _ := ts.Collect()
	if len(ch) != G+1 {
		t.Fatalf("%d changes", len(ch))
	}
	for _, c := range ch {
		if c.Tag.Same(shared) {
			if c.Coalesced != G*N-1 || (c.Value.(int64)%N) != 0 {
				t.Fatalf("shared %+v", c)
			}
			continue
		}
		if c.Value.(int64) != N || c.Coalesced != N-1 {
			t.Fatalf("own %+v", c)
		}
	}
	if more, _ := ts.Collect(); len(more) != 0 {
		t.Fatal("collected twice")
	}
}

func openFds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestRSSFlatOver100kObjects(t *testing.T) {
	cycle := func(n int, useFinalizer bool) {
		for i := 0; i < n; i++ {
			ts, err := NewTagSet()
			if err != nil {
				t.Fatal(err)
			}
			tag, _ := ts.Add("T", TypeString, nil)
			tag.Set(fmt.Sprintf("value %d", i), QualityGood, 0)
			tag.Get()
			ts.Collect()
			if !useFinalizer {
				ts.Close()
			}
		}
	}
	cycle(5000, false)
	debug.FreeOSMemory()
	before := rssKiB(t)
	cycle(100000, false)
	debug.FreeOSMemory()
	after := rssKiB(t)
	t.Logf("RSS %d KiB -> %d KiB over 100k tag sets", before, after)
	if after-before > 4096 {
		t.Fatalf("RSS grew by %d KiB", after-before)
	}
	// Forgotten objects are freed by their finalizers: every tag set's descriptor is closed again.
	fds := openFds(t)
	for i := 0; i < 10; i++ {
		cycle(200, true)
		runtime.GC()
	}
	deadline := time.Now().Add(5 * time.Second)
	for openFds(t) > fds && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := openFds(t); n > fds {
		t.Fatalf("%d descriptors of forgotten tag sets not released by finalizers", n-fds)
	}
}

func TestConfig(t *testing.T) {
	cfg, err := LoadConfigFile(filepath.Join(sourceDir(t), "examples", "gateway.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Close()
	if cfg.GroupID() == "" || len(cfg.Devices()) == 0 || len(cfg.Devices()[0].Tags) == 0 {
		t.Fatal("empty config")
	}
	_, err = LoadConfig([]byte(`{"version": 1, "node": {"group_id": "G", "edge_node_id": 5}}`), "gw.json", "")
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "gw.json: $.node.edge_node_id") {
		t.Fatalf("got %v", err)
	}
	_, err = LoadConfigFile("/nonexistent.json")
	if !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestIdentityAndCredentials(t *testing.T) {
	id := Identity{DeviceID: "press-7", Vendor: "acme", Model: "p7", Serial: "SN42"}
	if urn, err := id.URN(); err != nil || urn != "urn:tagwire:acme:p7:SN42" {
		t.Fatal(urn, err)
	}
	if err := (Identity{DeviceID: "bad:id"}).Check(); !errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), "device_id") {
		t.Fatal(err)
	}
	pki := makePKI(t)
	dir := filepath.Join(t.TempDir(), "creds")
	os.MkdirAll(filepath.Join(dir, "gen-1"), 0o700)
	for src, dst := range map[string]string{"client.key": "key.pem", "client.pem": "chain.pem"} {
		b, _ := os.ReadFile(filepath.Join(pki, src))
		os.WriteFile(filepath.Join(dir, "gen-1", dst), b, 0o600)
	}
	os.Symlink("gen-1", filepath.Join(dir, "current"))
	info, err := InspectCredentials(dir, 0)
	if err != nil || !info.HasCurrent || !strings.Contains(info.Subject, "CN=device-1") ||
		info.RenewAt != RenewTime(info.NotBefore, info.NotAfter, 0) {
		t.Fatalf("%+v %v", info, err)
	}
	if _, err := InspectCredentials(filepath.Join(dir, "nope"), 0); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if !Retriable(ErrConnRefused) || Retriable(ErrESTAuth) {
		t.Fatal("retriable")
	}
}

func TestLogHook(t *testing.T) {
	var mu sync.Mutex
	var got []string
	SetLog(func(level LogLevel, module, msg string) {
		mu.Lock()
		got = append(got, level.String()+" "+module+": "+msg)
		mu.Unlock()
	}, LogDebug)
	defer SetLog(nil, LogWarn)
	dev, _ := OpenDevice(fmt.Sprintf("modbus+tcp://127.0.0.1:%d", freePort(t)), &DeviceOptions{TimeoutMs: 200, ConnectTimeoutMs: 200})
	id, _ := dev.AddItem("hr:1")
	dev.Read(context.Background(), id)
	dev.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 {
		t.Fatal("no log message")
	}
}
