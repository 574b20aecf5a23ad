// Command tags: tags, deadbands and change sets from Go.
package main

import (
	"fmt"
	"log"

	"tagwire"
)

func main() {
	ts, err := tagwire.NewTagSet()
	if err != nil {
		log.Fatal(err)
	}
	defer ts.Close()
	oil, _ := ts.Add("Hydraulics/OilTemp", tagwire.TypeDouble, &tagwire.TagOptions{Unit: "degC", Deadband: 0.2})
	strokes, _ := ts.Add("Counters/Strokes", tagwire.TypeUint64, nil)
	for i := 0; i < 5; i++ {
		oil.Set(40.0+float64(i)*0.15, tagwire.QualityGood, 0) // small steps fall inside the deadband
		strokes.Set(uint64(1000+i), tagwire.QualityGood, 0)
	}
	changes, err := ts.Collect()
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range changes {
		fmt.Printf("%-20s %v (%s, %d updates coalesced)\n", c.Tag.Name(), c.Value, c.Quality, c.Coalesced)
	}
}
