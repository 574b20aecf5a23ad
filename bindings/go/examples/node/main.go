// Command node: an edge node publishing a simulated machine over Sparkplug B, MQTT and mutual TLS.
//
//	go run ./examples/node mqtts://127.0.0.1:8883 ca.pem client.pem client.key
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"tagwire"
)

func main() {
	if len(os.Args) < 5 {
		log.Fatal("usage: node BROKER CA CERT KEY")
	}
	n, err := tagwire.NewNode(tagwire.NodeOptions{GroupID: "PlantA", EdgeNodeID: "Press7", Broker: os.Args[1],
		TLSCAFile: os.Args[2], TLSCertFile: os.Args[3], TLSKeyFile: os.Args[4], TLSServerName: "localhost"})
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	state, _ := n.AddTag("State", tagwire.TypeString, nil)
	sim, err := n.AddDevice("Sim", "sim://")
	if err != nil {
		log.Fatal(err)
	}
	sim.AddTag("Hydraulics/OilTemp", tagwire.TypeDouble, &tagwire.TagOptions{Unit: "degC", Deadband: 0.2},
		"sine:period=2s,amplitude=5,offset=40", 100)
	if err := n.Start(); err != nil {
		log.Fatal(err)
	}
	state.Set("RUNNING", tagwire.QualityGood, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	<-ctx.Done()
	st, _ := n.Stats()
	fmt.Printf("online %v, %d births, %d metrics published\n", st.Online, st.Births, st.MetricsPublished)
	n.Stop()
}
