package tagwire

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// End to end: sim adapter -> Node -> Mosquitto over mutual TLS -> mosquitto_sub (its own client
// certificate) -> Eclipse Tahu's decoder.
func TestEndToEndSimNodeMosquittoTahu(t *testing.T) {
	pki := makePKI(t)
	port, logPath := startMosquittoLog(t, pki)
	sub := exec.Command("mosquitto_sub", "-h", "127.0.0.1", "-p", itoa(port), "-i", "go-e2e-sub",
		"--cafile", pki+"/ca.pem", "--cert", pki+"/client2.pem", "--key", pki+"/client2.key",
		"-t", "spBv1.0/#", "-q", "1", "-F", "%t %x")
	out, _ := sub.StdoutPipe()
	if err := sub.Start(); err != nil {
		t.Fatalf("mosquitto_sub: %v", err)
	}
	defer sub.Process.Kill()
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor(t, func() bool { b, _ := os.ReadFile(logPath); return strings.Contains(string(b), "SUBACK to go-e2e-sub") })

	n, err := NewNode(NodeOptions{GroupID: "PlantA", EdgeNodeID: "Press7", Broker: "mqtts://127.0.0.1:" + itoa(port),
		TLSCAFile: pki + "/ca.pem", TLSCertFile: pki + "/client.pem", TLSKeyFile: pki + "/client.key",
		TLSServerName: "localhost", StateDir: t.TempDir(), ShutdownTimeoutMs: 15000})
	if err != nil {
		t.Fatal(err)
	}
	oil, _ := n.AddTag("Hydraulics/OilTemp", TypeDouble, &TagOptions{Unit: "degC"})
	dev, err := n.AddDevice("Sim", "sim://?clock=virtual&tick=100ms")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.AddTag("Counter", TypeInt64, nil, "counter:start=1", 20); err != nil {
		t.Fatal(err)
	}
	oil.Set(41.5, QualityGood, 0)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { s, _ := n.Stats(); return s.Online && s.MetricsPublished >= 10 })
	if s, _ := n.Stats(); s.CertNotAfter <= time.Now().Unix() || s.CertRenewAt != 0 {
		t.Fatalf("certificate fields: %+v", s)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n.Close()
	// Read what the subscriber prints until the NDEATH of the clean stop is there (bounded).
	var all []string
	deadline := time.After(20 * time.Second)
collect:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break collect
			}
			all = append(all, l)
			if strings.Contains(l, "/NDEATH/") {
				break collect
			}
		case <-deadline:
			break collect
		}
	}
	sub.Process.Kill()
	js := tahu(t, `let buf='';process.stdin.on('data',d=>buf+=d);process.stdin.on('end',()=>{
	  const out=[];for(const line of buf.split('\n')){if(!line.trim())continue;const [topic,hex]=line.split(' ');
	  out.push({topic,p:JSON.parse(JSON.stringify(tahu.decodePayload(Buffer.from(hex||'','hex')),
	   (k,v)=>v&&v.low!==undefined&&v.high!==undefined?Number(v.low>>>0):v))});}
	  process.stdout.write(JSON.stringify(out));});`, []byte(strings.Join(all, "\n")))
	var msgs []struct {
		Topic string
		P     struct {
			Metrics []struct {
				Name  string
				Alias uint64
				Value any
			}
		}
	}
	if err := json.Unmarshal(js, &msgs); err != nil {
		t.Fatal(err)
	}
	var alias uint64
	var births, deaths int
	var values []float64
	for _, m := range msgs {
		typ := strings.Split(m.Topic, "/")[2]
		switch typ {
		case "NBIRTH":
			births++
			found := false
			for _, x := range m.P.Metrics {
				if x.Name == "Hydraulics/OilTemp" && x.Value.(float64) == 41.5 {
					found = true
				}
			}
			if !found {
				t.Fatalf("NBIRTH without the node tag: %+v", m.P)
			}
		case "DBIRTH":
			for _, x := range m.P.Metrics {
				if x.Name == "Counter" {
					alias = x.Alias
				}
			}
		case "DDATA":
			for _, x := range m.P.Metrics {
				if x.Alias == alias {
					values = append(values, x.Value.(float64))
				}
			}
		case "NDEATH":
			deaths++
		}
	}
	if births == 0 || deaths == 0 || len(values) < 5 {
		t.Fatalf("births %d deaths %d values %v", births, deaths, values)
	}
	for i := 1; i < len(values); i++ {
		if values[i] <= values[i-1] {
			t.Fatalf("counter not increasing: %v", values)
		}
	}
}
