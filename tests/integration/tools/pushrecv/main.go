// pushrecv is a stand-in for Grafana Pyroscope's ingest API, for the push
// tests: it implements the documented POST /ingest (name, from, until,
// format=pprof with a raw body, or a multipart `profile` field without
// format; gzip or not) and nothing more, and checks each profile against
// the server's documented limits and validation rules with google/pprof's
// parser. Every request is appended to a JSON-lines log.
//
//	pushrecv -port-file F -log F [-addr 127.0.0.1:0] [-token T | -basic u:p] [-tenant T]
//
// GET /mode?m=ok|500|429|400|hang|slowbody|hugebody changes how /ingest
// answers (hang: never, until the client goes); GET /stats gives counts.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/pprof/profile"
)

type record struct {
	Time        string            `json:"time"`
	Mode        string            `json:"mode"`
	Status      int               `json:"status"`
	Error       string            `json:"error,omitempty"`
	Name        string            `json:"name"`
	Service     string            `json:"service"`
	Labels      map[string]string `json:"labels"`
	Metric      string            `json:"metric"`
	From        string            `json:"from"`
	Until       string            `json:"until"`
	Format      string            `json:"format"`
	Multipart   bool              `json:"multipart"`
	Tenant      string            `json:"tenant"`
	Auth        string            `json:"auth"`
	UserAgent   string            `json:"user_agent"`
	GzBytes     int               `json:"gz_bytes"`
	RawBytes    int               `json:"raw_bytes"`
	Samples     int               `json:"samples"`
	Types       []string          `json:"types"`
	Totals      []int64           `json:"totals"`
	TimeNanos   int64             `json:"time_nanos"`
	DurNanos    int64             `json:"duration_nanos"`
	Comments    []string          `json:"comments"`
	Functions   int               `json:"functions"`
	TopFunction string            `json:"top_function"`
	// Distinct sets of sample labels other than thread and thread_id (the
	// request context's series), and the keys seen among them.
	LabelSets int      `json:"label_sets"`
	LabelKeys []string `json:"label_keys"`
}

// labelSets counts the distinct context label sets of p's samples.
func labelSets(p *profile.Profile) (int, []string) {
	sets, keys := map[string]bool{}, map[string]bool{}
	for _, s := range p.Sample {
		var parts []string
		for k, vs := range s.Label {
			if k == "thread" || k == "thread_id" {
				continue
			}
			keys[k] = true
			parts = append(parts, k+"="+strings.Join(vs, "|"))
		}
		if len(parts) > 0 {
			sort.Strings(parts)
			sets[strings.Join(parts, ",")] = true
		}
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return len(sets), ks
}

var (
	mu       sync.Mutex
	mode     = "ok"
	logFile  *os.File
	inflight int64
	requests int64
	token    = flag.String("token", "", "required bearer token")
	basic    = flag.String("basic", "", "required user:password")
	tenant   = flag.String("tenant", "", "required X-Scope-OrgID")
)

// Pyroscope's metric name from the sample types (pkg/og/convert/pprof).
func metricName(types []string) string {
	for _, t := range types {
		switch {
		case strings.Contains(t, "cpu"):
			return "process_cpu"
		case strings.Contains(t, "alloc_") || strings.Contains(t, "inuse_") ||
			strings.Contains(t, "space") || strings.Contains(t, "objects"):
			return "memory"
		case strings.Contains(t, "mutex_"):
			return "mutex"
		case strings.Contains(t, "block_"):
			return "block"
		case strings.Contains(t, "goroutines"):
			return "goroutines"
		}
	}
	return ""
}

// name{k=v,k=v}, as Pyroscope's segment keys are written.
func parseName(name string) (string, map[string]string, error) {
	labels := map[string]string{}
	i := strings.IndexByte(name, '{')
	if i < 0 {
		return name, labels, nil
	}
	if !strings.HasSuffix(name, "}") {
		return "", nil, fmt.Errorf("bad name %q", name)
	}
	for _, kv := range strings.Split(name[i+1:len(name)-1], ",") {
		if kv == "" {
			continue
		}
		p := strings.SplitN(kv, "=", 2)
		if len(p) != 2 || p[0] == "" || p[1] == "" {
			return "", nil, fmt.Errorf("bad label %q", kv)
		}
		if _, dup := labels[p[0]]; dup {
			return "", nil, fmt.Errorf("duplicate label %q", p[0])
		}
		labels[p[0]] = p[1]
	}
	return name[:i], labels, nil
}

func validate(p *profile.Profile, raw []byte, rec *record) error {
	if len(raw) > 4<<20 {
		return fmt.Errorf("profile_size_limit: %d bytes uncompressed > 4 MiB", len(raw))
	}
	if len(p.Sample) > 16000 {
		return fmt.Errorf("samples_limit: %d samples > 16000", len(p.Sample))
	}
	for _, st := range p.SampleType {
		if strings.Contains(st.Type, "-") || strings.Contains(st.Unit, "-") {
			return fmt.Errorf("sample type %q contains '-'", st.Type)
		}
	}
	now := time.Now().UnixNano()
	if p.TimeNanos != 0 && (p.TimeNanos < now-int64(time.Hour) || p.TimeNanos > now+int64(10*time.Minute)) {
		return fmt.Errorf("time_nanos %d outside the ingestion window", p.TimeNanos)
	}
	for _, f := range p.Function {
		if !utf8.ValidString(f.Name) || !utf8.ValidString(f.Filename) {
			return fmt.Errorf("function %d: invalid UTF-8", f.ID)
		}
	}
	for _, s := range p.Sample {
		for k, vs := range s.Label {
			for _, v := range vs {
				if !utf8.ValidString(k) || !utf8.ValidString(v) {
					return fmt.Errorf("label: invalid UTF-8")
				}
			}
		}
	}
	for _, c := range p.Comments {
		if !utf8.ValidString(c) {
			return fmt.Errorf("comment: invalid UTF-8")
		}
	}
	// string_table[0] == "", ids != 0, indexes in range: ParseData refuses
	// a profile that breaks them.
	return nil
}

func authorized(r *http.Request) string {
	h := r.Header.Get("Authorization")
	switch {
	case *token != "":
		if h != "Bearer "+*token {
			return "bad bearer"
		}
	case *basic != "":
		if h != "Basic "+base64.StdEncoding.EncodeToString([]byte(*basic)) {
			return "bad basic"
		}
	}
	if *tenant != "" && r.Header.Get("X-Scope-OrgID") != *tenant {
		return "bad tenant"
	}
	return ""
}

func writeRecord(rec *record) {
	b, _ := json.Marshal(rec)
	mu.Lock()
	logFile.Write(append(b, '\n'))
	mu.Unlock()
}

func ingest(w http.ResponseWriter, r *http.Request) {
	atomic.AddInt64(&requests, 1)
	atomic.AddInt64(&inflight, 1)
	defer atomic.AddInt64(&inflight, -1)
	mu.Lock()
	m := mode
	mu.Unlock()
	rec := &record{Time: time.Now().UTC().Format(time.RFC3339Nano), Mode: m,
		Tenant: r.Header.Get("X-Scope-OrgID"), UserAgent: r.UserAgent()}
	if h := r.Header.Get("Authorization"); h != "" {
		rec.Auth = strings.SplitN(h, " ", 2)[0]
	}
	fail := func(status int, format string, a ...interface{}) {
		rec.Status, rec.Error = status, fmt.Sprintf(format, a...)
		writeRecord(rec)
		http.Error(w, rec.Error, status)
	}
	switch m {
	case "500":
		fail(500, "internal error (test)")
		return
	case "429":
		fail(429, "push rate limit exceeded (test)")
		return
	case "400":
		fail(400, "invalid request (test): \x1b[31mred\n")
		return
	case "hang":
		rec.Status = 0
		writeRecord(rec)
		<-r.Context().Done()
		return
	}
	if r.Method != http.MethodPost {
		fail(405, "POST only")
		return
	}
	if why := authorized(r); why != "" {
		fail(401, "%s", why)
		return
	}
	q := r.URL.Query()
	rec.Name, rec.From, rec.Until, rec.Format = q.Get("name"), q.Get("from"), q.Get("until"), q.Get("format")
	if rec.Name == "" {
		fail(400, "name is required")
		return
	}
	var err error
	if rec.Service, rec.Labels, err = parseName(rec.Name); err != nil {
		fail(400, "%v", err)
		return
	}
	var body []byte
	ct := r.Header.Get("Content-Type")
	if rec.Format == "pprof" {
		body, err = io.ReadAll(io.LimitReader(r.Body, 256<<20))
	} else if strings.HasPrefix(ct, "multipart/form-data") {
		rec.Multipart = true
		if err = r.ParseMultipartForm(64 << 20); err == nil {
			f, _, ferr := r.FormFile("profile")
			if ferr != nil {
				err = ferr
			} else {
				body, err = io.ReadAll(f)
				f.Close()
			}
		}
	} else {
		fail(400, "neither format=pprof nor multipart: %q", ct)
		return
	}
	if err != nil {
		fail(408, "reading the body: %v", err)
		return
	}
	rec.GzBytes = len(body)
	raw := body
	if len(body) > 2 && body[0] == 0x1f && body[1] == 0x8b {
		zr, zerr := gzip.NewReader(bytes.NewReader(body))
		if zerr == nil {
			raw, zerr = io.ReadAll(zr)
		}
		if zerr != nil {
			fail(400, "gzip: %v", zerr)
			return
		}
	}
	rec.RawBytes = len(raw)
	p, err := profile.ParseData(body)
	if err != nil {
		fail(422, "parse: %v", err)
		return
	}
	rec.Samples, rec.TimeNanos, rec.DurNanos, rec.Comments = len(p.Sample), p.TimeNanos, p.DurationNanos, p.Comments
	rec.LabelSets, rec.LabelKeys = labelSets(p)
	rec.Functions = len(p.Function)
	for _, st := range p.SampleType {
		rec.Types = append(rec.Types, st.Type+"/"+st.Unit)
	}
	rec.Metric = metricName(rec.Types)
	rec.Totals = make([]int64, len(p.SampleType))
	var top int64 = -1
	for _, s := range p.Sample {
		for i, v := range s.Value {
			rec.Totals[i] += v
		}
		v := s.Value[len(s.Value)-1]
		if v > top && len(s.Location) > 0 && len(s.Location[0].Line) > 0 {
			top, rec.TopFunction = v, s.Location[0].Line[0].Function.Name
		}
	}
	if err := validate(p, raw, rec); err != nil {
		fail(400, "%v", err)
		return
	}
	switch m {
	case "slowbody":
		rec.Status = 200
		writeRecord(rec)
		w.WriteHeader(200)
		for i := 0; i < 60; i++ {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(time.Second)
		}
		return
	case "hugebody":
		rec.Status = 200
		writeRecord(rec)
		w.WriteHeader(200)
		chunk := bytes.Repeat([]byte("y"), 1<<20)
		for i := 0; i < 100; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		return
	}
	rec.Status = 200
	writeRecord(rec)
	w.WriteHeader(200)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	portFile := flag.String("port-file", "", "write the port here")
	logPath := flag.String("log", "", "JSON lines of every request")
	flag.Parse()
	var err error
	if logFile, err = os.OpenFile(*logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		panic(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	os.WriteFile(*portFile+".tmp", []byte(fmt.Sprint(port)), 0o644)
	os.Rename(*portFile+".tmp", *portFile)
	mux := http.NewServeMux()
	mux.HandleFunc("/ingest", ingest)
	mux.HandleFunc("/prefix/ingest", ingest)
	mux.HandleFunc("/mode", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		mode = r.URL.Query().Get("m")
		mu.Unlock()
		fmt.Fprintln(w, "mode", mode)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "requests=%d inflight=%d\n", atomic.LoadInt64(&requests), atomic.LoadInt64(&inflight))
	})
	http.Serve(ln, mux)
}
