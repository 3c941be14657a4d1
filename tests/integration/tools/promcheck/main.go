// promcheck parses Prometheus text exposition from stdin with the
// Prometheus project's own parser and prints "NAME TYPE SERIES" per family;
// it exits 1 with the parser's message on invalid input.
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/prometheus/common/expfmt"
)

func main() {
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "invalid exposition:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("%s %s %d\n", n, fams[n].GetType(), len(fams[n].GetMetric()))
	}
}
