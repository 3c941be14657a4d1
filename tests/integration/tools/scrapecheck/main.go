// scrapecheck replays the default pprof scrape jobs of Grafana Alloy
// (pyroscope.scrape) and Parca against a profiler and checks every answer
// against what those scrapers require (see /work/shared/notes/fleet.md):
//
//	Alloy: memory (/debug/pprof/allocs), block, goroutine, mutex and
//	       process_cpu (/debug/pprof/profile?seconds=14) every 15 s,
//	       User-Agent "Alloy/v1.10.0 (linux; binary)", Bearer token
//	Parca: the same paths every 10 s, process_cpu with seconds=10,
//	       User-Agent "conprof/v0.24.0", HTTP Basic with the token
//
// Checks, on every scrape: 200; Content-Type application/octet-stream; a
// non-empty gzip body that is neither HTML nor JSON; google/pprof parses
// it; duration_nanos > 0 only on process_cpu; every Location has a
// non-zero address, unique in its profile, that names the same function
// in every scrape; every location names its function; allocs, mutex and
// block are cumulative: per stack (addresses + labels) no value ever
// decreases between two scrapes of a job and no stack disappears.
//
//	scrapecheck -base http://127.0.0.1:PORT -token T -duration 125s -save DIR
//	            [-alloy-every 15s -parca-every 10s]
//
// Shorter intervals keep both contracts' shapes (Alloy asks for a CPU
// profile 1 s shorter than its interval, Parca for one as long) in less
// time: the default test run replays them at 3 s and 2 s.
//
// Prints one line per failure and a summary; exits 1 on any failure.
package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/pprof/profile"
)

type job struct {
	name     string
	every    time.Duration
	seconds  int
	agent    string
	auth     string
	lastVals map[string]map[string][]int64 // path -> stack key -> values
}

var (
	base       = flag.String("base", "", "http://host:port")
	token      = flag.String("token", "", "the profiler's token")
	duration   = flag.Duration("duration", 125*time.Second, "how long to replay")
	alloyEvery = flag.Duration("alloy-every", 15*time.Second, "Alloy's scrape_interval (its CPU profile lasts 1 s less)")
	parcaEvery = flag.Duration("parca-every", 10*time.Second, "Parca's scrape interval (its CPU profile lasts as long)")
	saveDir    = flag.String("save", "", "keep the last profile of each job and type here")

	mu       sync.Mutex
	failures []string
	scrapes  = map[string]int{}
	addrFunc = map[uint64]string{} // address -> function, across every scrape
	unnamed  = map[string]int{}    // object -> locations left to server-side symbolizers
)

func fail(format string, a ...interface{}) {
	mu.Lock()
	defer mu.Unlock()
	if len(failures) < 200 {
		failures = append(failures, fmt.Sprintf(format, a...))
	}
}

func stackKey(s *profile.Sample) string {
	var b strings.Builder
	for _, l := range s.Location {
		fmt.Fprintf(&b, "%x;", l.Address)
	}
	keys := make([]string, 0, len(s.Label))
	for k, v := range s.Label {
		keys = append(keys, k+"="+strings.Join(v, ","))
	}
	sort.Strings(keys)
	b.WriteString(strings.Join(keys, ","))
	return b.String()
}

func scrape(j *job, kind, path string, windowed, cumulative bool) {
	what := j.name + " " + kind
	req, _ := http.NewRequest("GET", *base+path, nil)
	req.Header.Set("User-Agent", j.agent)
	req.Header.Set("Authorization", j.auth)
	client := &http.Client{Timeout: time.Duration(j.seconds+13) * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		fail("%s: %v", what, err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		fail("%s: reading the body: %v", what, err)
		return
	}
	if resp.StatusCode != 200 {
		fail("%s: status %d: %.200s", what, resp.StatusCode, body)
		return
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/octet-stream") {
		fail("%s: Content-Type %q", what, ct)
	}
	if len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		fail("%s: not a gzip body (%d bytes)", what, len(body))
		return
	}
	head := bytes.ToLower(bytes.TrimSpace(body[:min(len(body), 64)]))
	if bytes.HasPrefix(head, []byte("<")) || bytes.HasPrefix(head, []byte("{")) {
		fail("%s: a 200 carrying an error page", what)
	}
	p, err := profile.ParseData(body)
	if err != nil {
		fail("%s: google/pprof cannot parse it: %v", what, err)
		return
	}
	if windowed != (p.DurationNanos > 0) {
		fail("%s: duration_nanos %d (windowed: %v)", what, p.DurationNanos, windowed)
	}
	if p.TimeNanos == 0 || time.Since(time.Unix(0, p.TimeNanos)) > time.Minute {
		fail("%s: time_nanos %d is not the real time", what, p.TimeNanos)
	}
	seen := map[uint64]uint64{}
	for _, l := range p.Location {
		if l.Address == 0 {
			fail("%s: location %d has address 0", what, l.ID)
			continue
		}
		if id, dup := seen[l.Address]; dup {
			fail("%s: locations %d and %d share address %#x", what, id, l.ID, l.Address)
		}
		seen[l.Address] = l.ID
		if len(l.Line) == 0 || l.Line[0].Function == nil || l.Line[0].Function.Name == "" {
			// Only an object without a symbol for it (a static function
			// of a stripped system library, no -dbg installed) may leave
			// a location unnamed, and then with what Parca and Pyroscope
			// need to symbolize it themselves: its mapping's file and
			// build ID (Parca symbolizes address + build ID + no lines).
			m := l.Mapping
			if m == nil || m.BuildID == "" || m.File == "" || strings.Contains(m.File, "takhind") ||
				strings.Contains(m.File, "profiler.so") {
				fail("%s: location %#x has no function name (mapping %+v)", what, l.Address, m)
			} else {
				mu.Lock()
				unnamed[filepath.Base(m.File)]++
				mu.Unlock()
			}
			continue
		}
		fn := l.Line[len(l.Line)-1].Function.Name
		mu.Lock()
		if prev, ok := addrFunc[l.Address]; ok && prev != fn {
			failures = append(failures, fmt.Sprintf("%s: address %#x named %q, earlier %q", what, l.Address, fn, prev))
		}
		addrFunc[l.Address] = fn
		mu.Unlock()
	}
	if cumulative {
		cur := map[string][]int64{}
		for _, s := range p.Sample {
			k := stackKey(s)
			if v, ok := cur[k]; ok { // identical stacks: add up, as fastdelta would
				for i := range v {
					v[i] += s.Value[i]
				}
			} else {
				cur[k] = append([]int64(nil), s.Value...)
			}
		}
		mu.Lock()
		prev := j.lastVals[kind]
		j.lastVals[kind] = cur
		mu.Unlock()
		// The counters Alloy's fastdelta differences: alloc_*, contentions,
		// delay (inuse_* in allocs is a snapshot, as in Go).
		counter := func(i int) bool { return !strings.HasPrefix(p.SampleType[i].Type, "inuse_") }
		for k, pv := range prev {
			cv, ok := cur[k]
			if !ok {
				for i := range pv {
					if counter(i) && pv[i] > 0 {
						fail("%s: a stack with %s %d is gone (cumulative profiles keep every stack)", what, p.SampleType[i].Type, pv[i])
						break
					}
				}
				continue
			}
			for i := range pv {
				if counter(i) && cv[i] < pv[i] {
					fail("%s: %s went down from %d to %d on one stack", what, p.SampleType[i].Type, pv[i], cv[i])
				}
			}
		}
	}
	if *saveDir != "" {
		os.WriteFile(filepath.Join(*saveDir, j.name+"-"+kind+".pb.gz"), body, 0o644)
	}
	mu.Lock()
	scrapes[what]++
	mu.Unlock()
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func run(j *job, until time.Time, wg *sync.WaitGroup) {
	defer wg.Done()
	var inner sync.WaitGroup
	for t := time.Now(); t.Before(until); t = t.Add(j.every) {
		time.Sleep(time.Until(t))
		for _, s := range []struct {
			kind, path           string
			windowed, cumulative bool
		}{
			{"memory", "/debug/pprof/allocs", false, true},
			{"block", "/debug/pprof/block", false, true},
			{"goroutine", "/debug/pprof/goroutine", false, false},
			{"mutex", "/debug/pprof/mutex", false, true},
			{"process_cpu", fmt.Sprintf("/debug/pprof/profile?seconds=%d", j.seconds), true, false},
		} {
			inner.Add(1)
			go func(kind, path string, w, c bool) {
				defer inner.Done()
				scrape(j, kind, path, w, c)
			}(s.kind, s.path, s.windowed, s.cumulative)
		}
	}
	inner.Wait()
}

func main() {
	flag.Parse()
	until := time.Now().Add(*duration)
	jobs := []*job{
		{name: "alloy", every: *alloyEvery, seconds: int(*alloyEvery/time.Second) - 1, agent: "Alloy/v1.10.0 (linux; binary)",
			auth: "Bearer " + *token},
		{name: "parca", every: *parcaEvery, seconds: int(*parcaEvery / time.Second), agent: "conprof/v0.24.0",
			auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("parca:"+*token))},
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		j.lastVals = map[string]map[string][]int64{}
		wg.Add(1)
		go run(j, until, &wg)
	}
	wg.Wait()
	names := make([]string, 0, len(scrapes))
	total := 0
	for k, n := range scrapes {
		names = append(names, fmt.Sprintf("%s=%d", k, n))
		total += n
	}
	sort.Strings(names)
	for _, f := range failures {
		fmt.Println("FAIL", f)
	}
	fmt.Printf("scrapes ok: %d (%s); addresses seen: %d; failures: %d\n", total,
		strings.Join(names, " "), len(addrFunc), len(failures))
	fmt.Printf("unnamed locations (stripped system libraries, with build IDs): %v\n", unnamed)
	if len(failures) > 0 {
		os.Exit(1)
	}
}
