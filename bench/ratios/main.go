// Command ratios reads `go test -bench` output and prints, as Markdown, the
// median of every benchmark's results and the ratios the cachefront targets
// are stated in, each against a reference measured in the same run.
//
// Usage:
//
//	go run ./ratios results/results.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// samples holds every value of every unit of one benchmark.
type samples map[string][]float64

type results struct {
	order []string
	by    map[string]samples
}

var procSuffix = regexp.MustCompile(`-\d+$`)

func parse(r io.Reader, res *results) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		s, ok := res.by[name]
		if !ok {
			s = samples{}
			res.by[name] = s
			res.order = append(res.order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			s[f[i+1]] = append(s[f[i+1]], v)
		}
	}
	return sc.Err()
}

func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

func (r *results) med(name, unit string) (float64, bool) {
	s, ok := r.by[name]
	if !ok {
		return 0, false
	}
	return median(s[unit])
}

// target is one stated goal. Time targets are judged on the paired
// benchmark (BenchmarkPaired: the reference and the library alternate in the
// same iterations, so load on the machine falls on both); the unpaired ratio
// of the per-library benchmarks is shown beside it.
type target struct {
	label     string
	paired    string // BenchmarkPaired sub-benchmark reporting x-ref
	bench     string // unpaired benchmark
	ref       string // its unpaired reference
	kind      string // "ratio": time ratio ≤ limit; "bytes": B/op difference ≤ limit; "speedup": throughput ratio ≥ limit; "shown": a throughput ratio printed, not judged
	limit     float64
	statement string
}

var targets = []target{
	{"Get hit, tags checked (default client)", "Paired/op=get/client=default/lib=cachefront", "Get/client=default/lib=cachefront", "Get/client=default/lib=floor", "ratio", 1.05, "≤ 1.05× floor"},
	{"Get hit, tags checked (ContextTimeoutEnabled)", "Paired/op=get/client=ctxtimeout/lib=cachefront", "Get/client=ctxtimeout/lib=cachefront", "Get/client=ctxtimeout/lib=floor", "ratio", 1.05, "≤ 1.05× floor"},
	{"Get hit allocation (default client)", "", "Get/client=default/lib=cachefront", "Get/client=default/lib=floor", "bytes", 256, "≤ floor + 256 B/op"},
	{"Get hit allocation (ContextTimeoutEnabled)", "", "Get/client=ctxtimeout/lib=cachefront", "Get/client=ctxtimeout/lib=floor", "bytes", 256, "≤ floor + 256 B/op"},
	{"tagged GetOrLoad hit (default client)", "Paired/op=getorload/client=default/lib=cachefront", "GetOrLoad/client=default/lib=cachefront", "Get/client=default/lib=floor", "ratio", 1.05, "≤ 1.05× floor"},
	{"tagged GetOrLoad hit (ContextTimeoutEnabled)", "Paired/op=getorload/client=ctxtimeout/lib=cachefront", "GetOrLoad/client=ctxtimeout/lib=cachefront", "Get/client=ctxtimeout/lib=floor", "ratio", 1.05, "≤ 1.05× floor"},
	{"Set with one tag (default client)", "Paired/op=set/client=default/lib=cachefront", "Set/client=default/lib=cachefront", "Set/client=default/lib=floor", "ratio", 1.1, "≤ 1.1× raw SET"},
	{"Set with one tag (ContextTimeoutEnabled)", "Paired/op=set/client=ctxtimeout/lib=cachefront", "Set/client=ctxtimeout/lib=cachefront", "Set/client=ctxtimeout/lib=floor", "ratio", 1.1, "≤ 1.1× raw SET"},
	{"InvalidateTags, 100 keys (default client)", "Paired/op=invalidate/keys=100/client=default/lib=cachefront", "InvalidateTag/keys=100/client=default/lib=cachefront", "RoundTrip/value=small", "ratio", 1.2, "≤ 1.2× one GET round trip"},
	{"InvalidateTags, 10,000 keys (default client)", "Paired/op=invalidate/keys=10000/client=default/lib=cachefront", "InvalidateTag/keys=10000/client=default/lib=cachefront", "RoundTrip/value=small", "ratio", 1.2, "≤ 1.2× one GET round trip"},
	{"InvalidateTags, 100 keys (ContextTimeoutEnabled)", "Paired/op=invalidate/keys=100/client=ctxtimeout/lib=cachefront", "InvalidateTag/keys=100/client=ctxtimeout/lib=cachefront", "RoundTrip/value=small", "ratio", 1.2, "≤ 1.2× one GET round trip"},
	{"InvalidateTags, 10,000 keys (ContextTimeoutEnabled)", "Paired/op=invalidate/keys=10000/client=ctxtimeout/lib=cachefront", "InvalidateTag/keys=10000/client=ctxtimeout/lib=cachefront", "RoundTrip/value=small", "ratio", 1.2, "≤ 1.2× one GET round trip"},
	{"parallel hot-key hits, 16 readers (default client)", "Paired/op=parallel/readers=16/client=default/lib=cachefront", "ParallelHotKey/readers=16/client=default/lib=cachefront", "ParallelHotKey/readers=16/client=default/lib=floor", "shown", 3, "shown: latency-bound (see below)"},
	{"parallel hot-key hits, 64 readers (default client)", "Paired/op=parallel/readers=64/client=default/lib=cachefront", "ParallelHotKey/readers=64/client=default/lib=cachefront", "ParallelHotKey/readers=64/client=default/lib=floor", "speedup", 3, "≥ 3× floor throughput"},
	{"parallel hot-key hits, 256 readers (default client)", "Paired/op=parallel/readers=256/client=default/lib=cachefront", "ParallelHotKey/readers=256/client=default/lib=cachefront", "ParallelHotKey/readers=256/client=default/lib=floor", "shown", 3, "shown: capacity"},
	{"parallel hot-key hits, 16 readers (ContextTimeoutEnabled)", "Paired/op=parallel/readers=16/client=ctxtimeout/lib=cachefront", "ParallelHotKey/readers=16/client=ctxtimeout/lib=cachefront", "ParallelHotKey/readers=16/client=ctxtimeout/lib=floor", "shown", 3, "shown: latency-bound (see below)"},
	{"parallel hot-key hits, 64 readers (ContextTimeoutEnabled)", "Paired/op=parallel/readers=64/client=ctxtimeout/lib=cachefront", "ParallelHotKey/readers=64/client=ctxtimeout/lib=cachefront", "ParallelHotKey/readers=64/client=ctxtimeout/lib=floor", "speedup", 3, "≥ 3× floor throughput"},
	{"parallel hot-key hits, 256 readers (ContextTimeoutEnabled)", "Paired/op=parallel/readers=256/client=ctxtimeout/lib=cachefront", "ParallelHotKey/readers=256/client=ctxtimeout/lib=cachefront", "ParallelHotKey/readers=256/client=ctxtimeout/lib=floor", "shown", 3, "shown: capacity"},
	{"two tiers (WithLocalCache): Get hit (default client)", "Paired/op=get/client=default/lib=cachefront-local", "Get/client=default/lib=cachefront-local", "Get/client=default/lib=floor", "ratio", 1.05, "≤ 1.05× floor"},
	{"two tiers (WithLocalCache): Get hit allocation (default client)", "", "Get/client=default/lib=cachefront-local", "Get/client=default/lib=floor", "bytes", 256, "≤ floor + 256 B/op"},
	{"two tiers (WithLocalCache): parallel hot-key hits, 64 readers (default client)", "Paired/op=parallel/readers=64/client=default/lib=cachefront-local", "ParallelHotKey/readers=64/client=default/lib=cachefront-local", "ParallelHotKey/readers=64/client=default/lib=floor", "speedup", 3, "≥ 3× floor throughput"},
	{"two tiers (WithLocalCache): parallel hot-key hits, 64 readers (ContextTimeoutEnabled)", "Paired/op=parallel/readers=64/client=ctxtimeout/lib=cachefront-local", "ParallelHotKey/readers=64/client=ctxtimeout/lib=cachefront-local", "ParallelHotKey/readers=64/client=ctxtimeout/lib=floor", "speedup", 3, "≥ 3× floor throughput"},
}

// floorOf names the reference each benchmark's ratio column is taken
// against: the floor of its group, measured in the same run.
func floorOf(name string) string {
	switch {
	case strings.HasPrefix(name, "Get/"), strings.HasPrefix(name, "GetOrLoad/"):
		i := strings.Index(name, "/lib=")
		return "Get/" + strings.TrimPrefix(name[:i], strings.SplitN(name, "/", 2)[0]+"/") + "/lib=floor"
	case strings.HasPrefix(name, "ParallelHotKey/"), strings.HasPrefix(name, "Set/"), strings.HasPrefix(name, "Stampede/"):
		return name[:strings.Index(name, "/lib=")] + "/lib=floor"
	case strings.HasPrefix(name, "InvalidateTag/"):
		return "RoundTrip/value=small"
	}
	return ""
}

func fmtNum(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case v == float64(int64(v)):
		return strconv.FormatInt(int64(v), 10)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func ratioMet(t target, v float64) bool {
	if t.kind == "speedup" {
		return v >= t.limit
	}
	return v <= t.limit
}

func orDash(s string) string {
	if s == "" {
		return "not measured"
	}
	return s
}

// fmtTime formats nanoseconds in the unit that suits them.
func fmtTime(ns float64) string {
	switch {
	case ns >= 1e6:
		return strconv.FormatFloat(ns/1e6, 'f', 2, 64) + " ms"
	case ns >= 1e3:
		return strconv.FormatFloat(ns/1e3, 'f', 1, 64) + " µs"
	default:
		return strconv.FormatFloat(ns, 'f', 0, 64) + " ns"
	}
}

func main() {
	res := &results{by: map[string]samples{}}
	if len(os.Args) < 2 {
		if err := parse(os.Stdin, res); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for _, p := range os.Args[1:] {
		f, err := os.Open(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		err = parse(f, res)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if len(res.order) == 0 {
		fmt.Fprintln(os.Stderr, "ratios: no benchmark results")
		os.Exit(1)
	}

	fmt.Println("| benchmark | n | median time/op | × floor | B/op | allocs/op | loads/op |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	var pairedNames []string
	for _, name := range res.order {
		if strings.HasPrefix(name, "Paired/") {
			pairedNames = append(pairedNames, name)
			continue
		}
		ns, _ := res.med(name, "ns/op")
		ratio := "–"
		if ref := floorOf(name); ref != "" {
			if rn, ok := res.med(ref, "ns/op"); ok && rn > 0 {
				ratio = strconv.FormatFloat(ns/rn, 'f', 2, 64) + "×"
			}
		}
		cell := func(unit string) string {
			if v, ok := res.med(name, unit); ok {
				return fmtNum(v)
			}
			return "–"
		}
		fmt.Printf("| %s | %d | %s | %s | %s | %s | %s |\n", name, len(res.by[name]["ns/op"]), fmtTime(ns), ratio, cell("B/op"), cell("allocs/op"), cell("loads/op"))
	}

	if len(pairedNames) > 0 {
		fmt.Println()
		fmt.Println("| paired benchmark | n | reference time/op | library time/op | x-ref (median) |")
		fmt.Println("|---|---:|---:|---:|---:|")
		for _, name := range pairedNames {
			r, _ := res.med(name, "ref-ns/op")
			l, _ := res.med(name, "lib-ns/op")
			x, _ := res.med(name, "x-ref")
			fmt.Printf("| %s | %d | %s | %s | %.2f× |\n", name, len(res.by[name]["x-ref"]), fmtTime(r), fmtTime(l), x)
		}
	}

	fmt.Println()
	printTargets(os.Stdout, res, targets)

	// The watchdog: what a client without ContextTimeoutEnabled costs a hit.
	db, okD := res.med("Get/client=default/lib=cachefront", "B/op")
	cb, okC := res.med("Get/client=ctxtimeout/lib=cachefront", "B/op")
	da, _ := res.med("Get/client=default/lib=cachefront", "allocs/op")
	ca, _ := res.med("Get/client=ctxtimeout/lib=cachefront", "allocs/op")
	if x, ok := res.med("Paired/op=watchdog/lib=cachefront", "x-ref"); ok {
		r, _ := res.med("Paired/op=watchdog/lib=cachefront", "ref-ns/op")
		l, _ := res.med("Paired/op=watchdog/lib=cachefront", "lib-ns/op")
		fmt.Println()
		fmt.Printf("Watchdog, paired: a cachefront Get hit takes %.2f× as long on a go-redis default client (%s) as on a ContextTimeoutEnabled one (%s).\n",
			x, fmtTime(l), fmtTime(r))
	}
	if okD && okC {
		fmt.Println()
		fmt.Printf("Watchdog, allocations: a cachefront Get hit allocates %+.0f B/op and %+.0f allocs/op more on a default client.\n",
			db-cb, da-ca)
	}
}

// printTargets writes the table of targets: each judged on its paired
// ratio when the run has one, else on the unpaired ratio; "shown" rows are
// printed without a verdict.
func printTargets(w io.Writer, res *results, targets []target) {
	fmt.Fprintln(w, "| target | paired (median of x-ref) | unpaired (ratio of medians) | goal | met |")
	fmt.Fprintln(w, "|---|---:|---:|---|---|")
	for _, t := range targets {
		var paired, unpaired string
		var met, judged bool
		switch t.kind {
		case "bytes":
			paired = "–"
			bb, okB := res.med(t.bench, "B/op")
			rb, okR := res.med(t.ref, "B/op")
			if okB && okR {
				v := bb - rb
				unpaired = fmt.Sprintf("%+.0f B/op (%.0f vs %.0f)", v, bb, rb)
				met, judged = v <= t.limit, true
			}
		default:
			if x, ok := res.med(t.paired, "x-ref"); ok && x > 0 {
				v := x
				if t.kind == "speedup" || t.kind == "shown" {
					v = 1 / x
				}
				paired = strconv.FormatFloat(v, 'f', 2, 64) + "×"
				met, judged = ratioMet(t, v), true
			}
			b, okB := res.med(t.bench, "ns/op")
			r, okR := res.med(t.ref, "ns/op")
			if okB && okR && b > 0 {
				v := b / r
				if t.kind == "speedup" || t.kind == "shown" {
					v = r / b
				}
				unpaired = strconv.FormatFloat(v, 'f', 2, 64) + "×"
				if !judged {
					met, judged = ratioMet(t, v), true
				}
			}
		}
		verdict := "–"
		switch {
		case t.kind == "shown":
		case judged && met:
			verdict = "yes"
		case judged:
			verdict = "**no**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", t.label, orDash(paired), orDash(unpaired), t.statement, verdict)
	}
}
