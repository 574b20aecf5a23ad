// Command adapter: a protocol adapter implemented in Go, used through the device API.
package main

import (
	"context"
	"fmt"
	"log"

	"tagwire"
)

type machine struct{ rpm float64 }

func (m *machine) ParseAddress(a string) (tagwire.ItemInfo, error) {
	if a != "rpm" {
		return tagwire.ItemInfo{}, tagwire.NewError(tagwire.Status(tagwire.ErrAddress.Code), "no variable "+a)
	}
	return tagwire.ItemInfo{Item: a, Type: tagwire.TypeDouble, Writable: true}, nil
}
func (m *machine) Open(u tagwire.URI) (any, error) { return nil, nil }
func (m *machine) Close(any)                       {}
func (m *machine) Read(_ any, items []any) ([]tagwire.Sample, error) {
	m.rpm += 10
	return []tagwire.Sample{{Value: m.rpm, Quality: tagwire.QualityGood}}, nil
}
func (m *machine) Write(_ any, _ any, v any) error { m.rpm = v.(float64); return nil }

func main() {
	if err := tagwire.RegisterAdapter("acme", "ACME machine", &machine{}); err != nil {
		log.Fatal(err)
	}
	dev, err := tagwire.OpenDevice("acme://press7", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer dev.Close()
	rpm, _ := dev.AddItem("rpm")
	ctx := context.Background()
	dev.Write(ctx, rpm, 1000.0)
	s, _ := dev.Read(ctx, rpm)
	fmt.Println("rpm:", s[0].Value)
}
