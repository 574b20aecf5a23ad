// Command modbus: reads and writes Modbus TCP holding registers.
//
//	go run ./examples/modbus 127.0.0.1:502
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
	addr := "127.0.0.1:502"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	dev, err := tagwire.OpenDevice("modbus+tcp://"+addr+"?unit=1", &tagwire.DeviceOptions{TimeoutMs: 1000})
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Close()
	temp, err := dev.AddItem("holding-register:40001") // Modicon reference: offset 0
	if err != nil {
		log.Fatal(err) // the message names what is wrong with the address
	}
	setpoint, _ := dev.AddItem("hr:10")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dev.Write(ctx, setpoint, 1234); err != nil {
		log.Fatal(err)
	}
	samples, err := dev.Read(ctx, temp, setpoint)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("register 40001 =", samples[0].Value, "setpoint =", samples[1].Value, samples[1].Quality)
}
