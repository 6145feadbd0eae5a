package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
# a comment line
BenchmarkGet/client=default/lib=floor-2     	   100	     20000 ns/op	    2592 B/op	      21 allocs/op
BenchmarkGet/client=default/lib=floor-2     	   100	     30000 ns/op	    2592 B/op	      21 allocs/op
BenchmarkGet/client=default/lib=floor-2     	   100	     10000 ns/op	    2592 B/op	      21 allocs/op
BenchmarkGet/client=default/lib=cachefront-2	   100	     25000 ns/op	    3872 B/op	      44 allocs/op
BenchmarkGet/client=default/lib=cachefront-2	   100	     35000 ns/op	    3872 B/op	      44 allocs/op
BenchmarkPaired/op=get/client=default/lib=cachefront-2	100	90000 ns/op	50000 lib-ns/op	40000 ref-ns/op	1.25 x-ref
BenchmarkGet/client=default/lib=eko-2       	--- FAIL: BenchmarkGet/client=default/lib=eko-2
`

func TestParseAndMedians(t *testing.T) {
	res := &results{by: map[string]samples{}}
	if err := parse(strings.NewReader(sample), res); err != nil {
		t.Fatal(err)
	}
	want := []string{"Get/client=default/lib=floor", "Get/client=default/lib=cachefront", "Paired/op=get/client=default/lib=cachefront"}
	if strings.Join(res.order, ",") != strings.Join(want, ",") {
		t.Fatalf("order %q, want %q", res.order, want)
	}
	for _, c := range []struct {
		name, unit string
		want       float64
	}{
		{"Get/client=default/lib=floor", "ns/op", 20000},      // odd count: the middle value
		{"Get/client=default/lib=cachefront", "ns/op", 30000}, // even count: the mean of the middle two
		{"Get/client=default/lib=cachefront", "B/op", 3872},
		{"Paired/op=get/client=default/lib=cachefront", "x-ref", 1.25},
		{"Paired/op=get/client=default/lib=cachefront", "ref-ns/op", 40000},
	} {
		if got, ok := res.med(c.name, c.unit); !ok || got != c.want {
			t.Errorf("median %s %s = %v, %v; want %v", c.name, c.unit, got, ok, c.want)
		}
	}
	if _, ok := res.med("Get/client=default/lib=eko", "ns/op"); ok {
		t.Error("a failed benchmark has a median")
	}
}

func TestFloorOf(t *testing.T) {
	for in, want := range map[string]string{
		"Get/client=ctxtimeout/lib=cachefront":             "Get/client=ctxtimeout/lib=floor",
		"GetOrLoad/client=default/lib=eko":                 "Get/client=default/lib=floor",
		"Set/client=default/lib=cachefront":                "Set/client=default/lib=floor",
		"ParallelHotKey/readers=64/client=default/lib=eko": "ParallelHotKey/readers=64/client=default/lib=floor",
		"Stampede/lib=cachefront":                          "Stampede/lib=floor",
		"InvalidateTag/keys=100/client=default/lib=eko":    "RoundTrip/value=small",
		"RoundTrip/value=small":                            "",
	} {
		if got := floorOf(in); got != want {
			t.Errorf("floorOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrintTargetsJudgesThroughputAndShowsTheRest(t *testing.T) {
	const run = `BenchmarkParallelHotKey/readers=64/client=default/lib=floor-2	100	15000 ns/op
BenchmarkParallelHotKey/readers=64/client=default/lib=cachefront-2	100	4000 ns/op
BenchmarkPaired/op=parallel/readers=64/client=default/lib=cachefront-2	10	1 ns/op	4000 lib-ns/op	16000 ref-ns/op	0.25 x-ref
BenchmarkPaired/op=parallel/readers=16/client=default/lib=cachefront-2	10	1 ns/op	8000 lib-ns/op	16000 ref-ns/op	0.5 x-ref
BenchmarkPaired/op=get/client=default/lib=cachefront-2	10	1 ns/op	53000 lib-ns/op	50000 ref-ns/op	1.06 x-ref
`
	res := &results{by: map[string]samples{}}
	if err := parse(strings.NewReader(run), res); err != nil {
		t.Fatal(err)
	}
	ts := []target{
		{"judged", "Paired/op=parallel/readers=64/client=default/lib=cachefront", "ParallelHotKey/readers=64/client=default/lib=cachefront", "ParallelHotKey/readers=64/client=default/lib=floor", "speedup", 3, "≥ 3×"},
		{"shown", "Paired/op=parallel/readers=16/client=default/lib=cachefront", "", "", "shown", 3, "shown"},
		{"missed", "Paired/op=get/client=default/lib=cachefront", "", "", "ratio", 1.05, "≤ 1.05×"},
		{"absent", "Paired/op=set/client=default/lib=cachefront", "", "", "ratio", 1.1, "≤ 1.1×"},
	}
	var out strings.Builder
	printTargets(&out, res, ts)
	for _, want := range []string{
		"| judged | 4.00× | 3.75× | ≥ 3× | yes |",
		"| shown | 2.00× | not measured | shown | – |",
		"| missed | 1.06× | not measured | ≤ 1.05× | **no** |",
		"| absent | not measured | not measured | ≤ 1.1× | – |",
	} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("missing row %q in\n%s", want, out.String())
		}
	}
}
