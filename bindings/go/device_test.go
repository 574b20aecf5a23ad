package tagwire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestModbusReadWriteAgainstIndependentServer(t *testing.T) {
	port := startMbserver(t)
	ctx := context.Background()
	dev, err := OpenDevice(fmt.Sprintf("modbus+tcp://127.0.0.1:%d?unit=1", port), &DeviceOptions{TimeoutMs: 2000})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	hr, _ := dev.AddItem("hr:100")
	f, _ := dev.AddItem("holding-register:9000:FLOAT32")
	coil, _ := dev.AddItem("coil:3")
	w, _ := dev.AddItem("hr:201")
	ir, _ := dev.AddItem("ir:10")
	s, err := dev.Read(ctx, hr, f, coil, ir)
	if err != nil {
		t.Fatal(err)
	}
	if s[0].Value.(uint64) != 100 || math.Abs(float64(s[1].Value.(float32))-123.456) > 1e-3 ||
		s[2].Value.(bool) != true || s[3].Value.(uint64) != 70 {
		t.Fatalf("read %+v", s)
	}
	if err := dev.Write(ctx, w, 4343); err != nil {
		t.Fatal(err)
	}
	if s, _ := dev.Read(ctx, w); s[0].Value.(uint64) != 4343 {
		t.Fatal("read back")
	}
	if err := dev.Write(ctx, w, 70000); !errors.Is(err, ErrRange) {
		t.Fatal(err)
	}
	if err := dev.Write(ctx, ir, 1); !errors.Is(err, ErrUnsupported) {
		t.Fatal(err)
	}
	if _, err := dev.AddItem("holding-register:30001"); !errors.Is(err, ErrAddress) || !strings.Contains(err.Error(), "input-register") {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := dev.Read(cctx, hr); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if st, _ := dev.Stats(); !st.Connected || st.Writes < 1 || st.Reads < 2 {
		t.Fatalf("%+v", st)
	}
	// an independent client (pymodbus) sees what we wrote
	out, err := exec.Command("/usr/bin/python3", "-c", fmt.Sprintf(
		"from pymodbus.client import ModbusTcpClient as C\nc=C('127.0.0.1',port=%d)\nc.connect()\n"+
			"print(c.read_holding_registers(201,1,slave=1).registers[0])\nc.close()", port)).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "4343" {
		t.Fatalf("pymodbus: %v %s", err, out)
	}
}

func TestUnreachableDevice(t *testing.T) {
	dev, err := OpenDevice(fmt.Sprintf("modbus+tcp://127.0.0.1:%d", freePort(t)), &DeviceOptions{TimeoutMs: 300, ConnectTimeoutMs: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	id, _ := dev.AddItem("hr:1")
	s, err := dev.Read(context.Background(), id)
	if !errors.Is(err, ErrConnRefused) || !s[0].Quality.IsBad() {
		t.Fatalf("%v %+v", err, s)
	}
	if _, err := CheckAddress("nosuch", "x"); !errors.Is(err, ErrNoAdapter) {
		t.Fatal(err)
	}
}

func TestSimAndPoller(t *testing.T) {
	dev, err := OpenDevice("sim://?clock=virtual&tick=100ms", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	c, _ := dev.AddItem("counter:start=1")
	p, _ := NewPoller()
	defer p.Close()
	n := 0
	// Run until the callback has seen three cycles (it cancels), bounded by 10 s on a slow machine.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := p.AddGroup(dev, 10, []uint32{c}, func(group uint32, ids []uint32, s []Sample) {
		if n++; n == 3 {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if cycles, _, _ := p.GroupCycles(g); n < 3 || uint64(n) != cycles {
		t.Fatalf("n=%d cycles=%d", n, cycles)
	}
}

type machine struct {
	vars   map[string]any
	closed int
}

func (m *machine) ParseAddress(a string) (ItemInfo, error) {
	switch a {
	case "rpm", "setpoint":
		return ItemInfo{Item: a, Type: TypeDouble, Writable: a == "setpoint"}, nil
	case "state":
		return ItemInfo{Item: a, Type: TypeString, MaxBytes: 32}, nil
	}
	return ItemInfo{}, NewError(Status(ErrAddress.Code), "machine: no variable '"+a+"'")
}
func (m *machine) Open(u URI) (any, error) {
	if u.Host != "press7" {
		return nil, NewError(Status(ErrConfig.Code), "unknown host "+u.Host)
	}
	return u, nil
}
func (m *machine) Close(any) { m.closed++ }
func (m *machine) Read(conn any, items []any) ([]Sample, error) {
	if m.vars["rpm"].(float64) < 0 {
		panic("sensor exploded")
	}
	out := make([]Sample, len(items))
	for i, it := range items {
		out[i] = Sample{Value: m.vars[it.(string)], Quality: QualityGood}
	}
	return out, nil
}
func (m *machine) Write(conn any, item any, v any) error { m.vars[item.(string)] = v; return nil }

func TestGoAdapter(t *testing.T) {
	m := &machine{vars: map[string]any{"rpm": 1200.0, "state": "RUNNING", "setpoint": 0.0}}
	if err := RegisterAdapter("acmego", "ACME machines", m); err != nil {
		t.Fatal(err)
	}
	defer UnregisterAdapter("acmego")
	if _, err := OpenDevice("acmego://other", nil); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "unknown host other") {
		t.Fatal(err)
	}
	dev, err := OpenDevice("acmego://press7:99?x=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rpm, _ := dev.AddItem("rpm")
	state, _ := dev.AddItem("state")
	sp, _ := dev.AddItem("setpoint")
	if _, err := dev.AddItem("torque"); !errors.Is(err, ErrAddress) || !strings.Contains(err.Error(), "torque") {
		t.Fatal(err)
	}
	s, err := dev.Read(ctx, rpm, state)
	if err != nil || s[0].Value.(float64) != 1200 || s[1].Value.(string) != "RUNNING" {
		t.Fatalf("%+v %v", s, err)
	}
	if err := dev.Write(ctx, sp, 55.5); err != nil || m.vars["setpoint"].(float64) != 55.5 {
		t.Fatal(err)
	}
	m.vars["rpm"] = -1.0
	func() {
		defer func() {
			if r := recover(); r != "sensor exploded" {
				t.Fatalf("panic not carried back: %v", r)
			}
		}()
		dev.Read(ctx, rpm)
	}()
	dev.Close()
	if m.closed != 1 {
		t.Fatal("close")
	}
}

func tahu(t *testing.T, script string, stdin []byte) []byte {
	deps := os.Getenv("TW_SPARKPLUG_DEPS")
	if deps == "" {
		deps = "/opt/tagwire-deps/sparkplug"
	}
	mod := filepath.Join(deps, "node_modules", "sparkplug-payload")
	if _, err := os.Stat(mod); err != nil {
		t.Fatalf("sparkplug-payload is required (scripts/deps/sparkplug.sh): %v", err)
	}
	m, _ := json.Marshal(mod)
	cmd := exec.Command("node", "-e", "const tahu = require("+string(m)+").get('spBv1.0');\n"+script)
	cmd.Stdin = strings.NewReader(string(stdin))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	return out
}

func TestSparkplugBothWays(t *testing.T) {
	out := tahu(t, `process.stdout.write(Buffer.from(tahu.encodePayload({ timestamp: 1764400000000, seq: 7, metrics: [
	  { name: 'Oil', alias: 2, timestamp: 1764400000000, type: 'Double', value: 41.5,
	    properties: { engUnit: { type: 'String', value: 'degC' } } },
	  { alias: 4, timestamp: 1764400000002, type: 'Int16', value: -300 } ] })));`, nil)
	p, err := DecodeSparkplug(out)
	if err != nil {
		t.Fatal(err)
	}
	if p.Seq != 7 || len(p.Metrics) != 2 || p.Metrics[0].Value.(float64) != 41.5 || p.Metrics[0].Unit != "degC" ||
		p.Metrics[1].Value.(int64) != -300 || p.Metrics[1].Type != TypeInt16 || !json.Valid([]byte(p.JSON)) {
		t.Fatalf("%+v", p)
	}
	data, err := EncodeSparkplugData([]SparkplugMetric{{Name: "Speed", Alias: 1, TsMs: 5, Value: 1500.25},
		{Alias: 2, TsMs: 6, Value: -5, Type: TypeInt8}}, 9, 10)
	if err != nil {
		t.Fatal(err)
	}
	var dec struct {
		Seq     int
		Metrics []struct {
			Name  string
			Type  string
			Value float64
		}
	}
	js := tahu(t, `const c=[];process.stdin.on('data',d=>c.push(d));process.stdin.on('end',()=>{
	  const p=tahu.decodePayload(Buffer.concat(c));
	  process.stdout.write(JSON.stringify(p,(k,v)=>v&&v.low!==undefined&&v.high!==undefined?Number(v.low>>>0):v));});`, data)
	if err := json.Unmarshal(js, &dec); err != nil {
		t.Fatalf("%v %s", err, js)
	}
	if dec.Seq != 9 || dec.Metrics[0].Value != 1500.25 || dec.Metrics[1].Type != "Int8" || dec.Metrics[1].Value != -5 {
		t.Fatalf("%s", js)
	}
	if _, err := DecodeSparkplug([]byte{0x12, 0xff, 0xff, 0xff, 0xff, 0x0f}); !errors.Is(err, ErrSparkplugDecode) {
		t.Fatal(err)
	}
	topic, _ := SparkplugTopic(SpDDATA, "PlantA", "Press7", "Drive")
	if mt, g, n, d, err := ParseSparkplugTopic(topic); err != nil || mt != SpDDATA || g != "PlantA" || n != "Press7" || d != "Drive" {
		t.Fatal(topic, err)
	}
}

func TestMQTTOverMutualTLS(t *testing.T) {
	pki := makePKI(t)
	port := startMosquitto(t, pki)
	cfg, err := NewTLSConfig(pki+"/ca.pem", pki+"/client.pem", pki+"/client.key", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Close()
	if _, err := NewTLSConfig(pki+"/ca.pem", pki+"/client.pem", pki+"/client2.key", ""); !errors.Is(err, ErrTLSCredentials) {
		t.Fatal(err)
	}
	c, err := NewMQTTClient(cfg, MQTTOptions{Host: "127.0.0.1", Port: uint16(port), ClientID: "go-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []MQTTMessage
	c.OnMessage = func(m MQTTMessage) { got = append(got, m) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil || !c.Secure() {
		t.Fatal(err)
	}
	c.Subscribe("go/test/#", 1)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c.Publish("go/test/a", []byte("hello"), 1, false)
	for len(got) == 0 && ctx.Err() == nil {
		c.Step(50 * time.Millisecond)
	}
	if len(got) != 1 || got[0].Topic != "go/test/a" || string(got[0].Payload) != "hello" {
		t.Fatalf("%+v", got)
	}
	c.Disconnect(time.Second)
}
