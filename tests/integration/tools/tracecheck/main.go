// tracecheck checks a /debug/pprof/trace answer: Chrome Trace Event JSON
// with complete ("X") events, thread names and the spans a test expects.
//
//	go run ./tests/integration/tools/tracecheck -threads producer-0,consumer-0 \
//	    -spans produce,consume trace.json
//
// Prints one summary line; exits 1 with the reasons when a check fails.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Name string                 `json:"name"`
	Ph   string                 `json:"ph"`
	Ts   *float64               `json:"ts"`
	Dur  *float64               `json:"dur"`
	Pid  *int                   `json:"pid"`
	Tid  *int                   `json:"tid"`
	Args map[string]interface{} `json:"args"`
}

type trace struct {
	TraceEvents     []event                `json:"traceEvents"`
	DisplayTimeUnit string                 `json:"displayTimeUnit"`
	OtherData       map[string]interface{} `json:"otherData"`
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// check returns the problems found in t.
func check(t *trace, threads, spans []string) []string {
	var bad []string
	names := map[int]string{}
	counts := map[string]int{}
	for i, e := range t.TraceEvents {
		if e.Pid == nil || e.Tid == nil || e.Name == "" {
			bad = append(bad, fmt.Sprintf("event %d has no name, pid or tid", i))
			continue
		}
		switch e.Ph {
		case "M":
			if n, ok := e.Args["name"].(string); ok && e.Name == "thread_name" {
				names[*e.Tid] = n
			}
		case "X":
			if e.Ts == nil || e.Dur == nil || *e.Ts < 0 || *e.Dur < 0 {
				bad = append(bad, fmt.Sprintf("event %d (%s): X without ts/dur >= 0", i, e.Name))
			}
			counts[e.Name]++
		case "i":
			counts[e.Name]++
		default:
			bad = append(bad, fmt.Sprintf("event %d (%s): unexpected ph %q", i, e.Name, e.Ph))
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	for _, want := range threads {
		if !seen[want] {
			bad = append(bad, fmt.Sprintf("no thread named %q", want))
		}
	}
	for _, want := range spans {
		if counts[want] == 0 {
			bad = append(bad, fmt.Sprintf("no %q event", want))
		}
	}
	if t.DisplayTimeUnit != "ns" {
		bad = append(bad, "displayTimeUnit is not \"ns\"")
	}
	for _, k := range []string{"dropped_events", "threads", "events"} {
		if _, ok := t.OtherData[k].(float64); !ok {
			bad = append(bad, fmt.Sprintf("otherData.%s missing", k))
		}
	}
	return bad
}

func summary(t *trace) string {
	counts := map[string]int{}
	threads := []string{}
	for _, e := range t.TraceEvents {
		if e.Ph == "M" && e.Name == "thread_name" {
			threads = append(threads, fmt.Sprint(e.Args["name"]))
		} else if e.Ph != "M" {
			counts[e.Name]++
		}
	}
	sort.Strings(threads)
	keys := []string{}
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{}
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	return fmt.Sprintf("threads [%s]; events %s; dropped %v", strings.Join(threads, " "),
		strings.Join(parts, " "), t.OtherData["dropped_events"])
}

func main() {
	threads := flag.String("threads", "", "thread names that must appear, comma-separated")
	spans := flag.String("spans", "", "event names that must appear, comma-separated")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tracecheck [-threads a,b] [-spans x,y] FILE")
		os.Exit(2)
	}
	data, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var t trace
	if err := json.Unmarshal(data, &t); err != nil {
		fmt.Fprintf(os.Stderr, "not valid trace JSON: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(summary(&t))
	if bad := check(&t, split(*threads), split(*spans)); len(bad) > 0 {
		fmt.Fprintln(os.Stderr, strings.Join(bad, "\n"))
		os.Exit(1)
	}
}
