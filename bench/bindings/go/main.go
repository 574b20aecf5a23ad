// Go side of bench/bindings/run.sh: tag updates through the Go binding.
// Prints "<variant> <ns per update> <updates per second>" lines. Usage: tagwirebench [iterations]
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"tagwire"
)

func main() {
	n := 5000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	ts, err := tagwire.NewTagSet()
	if err != nil {
		panic(err)
	}
	defer ts.Close()
	tag, _ := ts.Add("Bench/Value", tagwire.TypeDouble, nil)
	run := func(name string, fn func(i int)) {
		best := 1e18
		for r := 0; r < 3; r++ {
			t0 := time.Now()
			for i := 0; i < n; i++ {
				fn(i)
				if i&4095 == 0 {
					ts.Collect()
				}
			}
			ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
			if ns < best {
				best = ns
			}
		}
		fmt.Printf("%s %.1f %.0f\n", name, best, 1e9/best)
	}
	run("go.SetDouble", func(i int) { tag.SetDouble(float64(i)) })
	run("go.Set", func(i int) { tag.Set(float64(i), tagwire.QualityGood, 0) })
}
