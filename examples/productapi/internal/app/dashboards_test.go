package app_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The dashboard and the alerting rules of deploy/ must name only metrics
// and labels the service exports: a metric renamed in the code would
// otherwise leave an empty panel, or an alert that can never fire, and
// nothing would say so.
const (
	dashboardFile = "../../deploy/grafana/dashboards/productapi.json"
	alertsFile    = "../../deploy/prometheus/alerts.yml"
)

// Prometheus adds these to what it scrapes: the target labels on every
// series, and a series of its own per target.
var (
	targetLabels = []string{"job", "instance"}
	scrapeSeries = []string{"up"}
)

func TestDashboardsUseExportedMetrics(t *testing.T) {
	e := newEnv(t, "sqlite", nil)
	// A miss, a hit, and an admin write that invalidates, so that every
	// cache series the panels read exists.
	e.get("/products/B000000001", "", "MISS")
	e.get("/products/B000000001", "", "HIT")
	e.get("/products?category_id=1", "", "MISS")
	e.must(e.do("PUT", "/products/B000000001", e.admin, map[string]any{"title": "Sterling Silver Beads 100 Pack", "price": 13.49, "category_id": 1}), 200)
	e.get("/products/B000000001", "", "MISS")
	exported := parseExposition(t, string(e.must(e.do("GET", "/metrics", "", nil), 200).body))

	exprs := append(dashboardQueries(t, dashboardFile), alertQueries(t, alertsFile)...)
	for _, q := range exprs {
		refs := promqlRefs(q.expr)
		if len(refs.metrics) == 0 {
			t.Errorf("%s: no metric found in %q", q.where, q.expr)
		}
		known := slices.Clone(targetLabels)
		for _, m := range refs.metrics {
			f, err := exported.lookup(m.name)
			if err != nil {
				t.Errorf("%s: %v", q.where, err)
				continue
			}
			known = append(known, f.labels...)
			for _, l := range m.labels {
				if l != "__name__" && !slices.Contains(f.labels, l) && !slices.Contains(targetLabels, l) {
					t.Errorf("%s: %s has no label %q (it has %v)", q.where, m.name, l, f.labels)
				}
			}
		}
		for _, l := range refs.grouping {
			if !slices.Contains(known, l) {
				t.Errorf("%s: label %q is on none of the metrics of %q", q.where, l, q.expr)
			}
		}
	}
}

func TestDashboardPromQLRefs(t *testing.T) {
	tests := []struct {
		expr     string
		metrics  string // name{label,...} ..., in order of appearance
		grouping string
	}{
		{`up{job="productapi"} == 0`, `up{job}`, ``},
		{`sum by (route, le) (rate(productapi_http_request_duration_seconds_bucket{route=~"$route"}[$__rate_interval]))`,
			`productapi_http_request_duration_seconds_bucket{route}`, `route,le`},
		{`histogram_quantile(0.99, sum without (code) (rate(x_bucket[5m] offset 1h)))`, `x_bucket{}`, `code`},
		{`a{cache=~"a|b", op!="read"} / on (cache) group_left () (sum by (cache) (b) + c)`, `a{cache,op} b{} c{}`, `cache,cache`},
		{`{__name__="hits_total", layer="local"}`, `hits_total{__name__,layer}`, ``},
		{`count_values("value", foo{a="by (x) {y}"}) > bool 1 and ignoring (z) bar`, `foo{a} bar{}`, `z`},
		{`max(m{namespace=~"${namespace}"}) unless $var`, `m{namespace}`, ``},
		{"label_values(cachefront_misses_total{namespace=~\"$namespace\"}, cache)", `cachefront_misses_total{namespace}`, `cache`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			r := promqlRefs(tt.expr)
			var got []string
			for _, m := range r.metrics {
				got = append(got, m.name+"{"+strings.Join(m.labels, ",")+"}")
			}
			if g := strings.Join(got, " "); g != tt.metrics {
				t.Errorf("metrics = %s, want %s", g, tt.metrics)
			}
			if g := strings.Join(r.grouping, ","); g != tt.grouping {
				t.Errorf("grouping labels = %s, want %s", g, tt.grouping)
			}
		})
	}
}

// family is one metric family of a scrape.
type family struct {
	kind   string   // counter, gauge, histogram, summary, untyped
	labels []string // the label names of its samples, le and quantile included
}

// exposition is a scrape of /metrics in the text format, by family name.
type exposition map[string]*family

// parseExposition reads the families of a text-format scrape: their
// types from the TYPE lines, their label names from the samples.
func parseExposition(t *testing.T, text string) exposition {
	t.Helper()
	fams := exposition{}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, kind, _ := strings.Cut(rest, " ")
			fams[name] = &family{kind: kind}
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, err := parseSample(line)
		if err != nil {
			t.Fatalf("/metrics: %v in %q", err, line)
		}
		f := fams[name]
		if f == nil {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && fams[base] != nil {
					f = fams[base]
				}
			}
		}
		if f == nil {
			f = &family{kind: "untyped"}
			fams[name] = f
		}
		for _, l := range labels {
			if !slices.Contains(f.labels, l) {
				f.labels = append(f.labels, l)
			}
		}
	}
	if len(fams) == 0 {
		t.Fatal("/metrics: no metric families")
	}
	return fams
}

// parseSample returns the metric name and label names of a sample line,
// `name{a="x",b="y\"z"} 1`.
func parseSample(line string) (string, []string, error) {
	end := strings.IndexAny(line, "{ ")
	if end <= 0 {
		return "", nil, fmt.Errorf("no metric name")
	}
	name, rest := line[:end], line[end:]
	if rest[0] != '{' {
		return name, nil, nil
	}
	var labels []string
	rest = rest[1:]
	for {
		rest = strings.TrimLeft(rest, " ,")
		if strings.HasPrefix(rest, "}") {
			return name, labels, nil
		}
		eq := strings.Index(rest, "=\"")
		if eq <= 0 {
			return "", nil, fmt.Errorf("bad label")
		}
		labels = append(labels, strings.TrimSpace(rest[:eq]))
		rest = rest[eq+2:]
		i := 0
		for i < len(rest) && rest[i] != '"' {
			if rest[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(rest) {
			return "", nil, fmt.Errorf("unterminated label value")
		}
		rest = rest[i+1:]
	}
}

// lookup returns the family a query's metric name selects: the family of
// that name, or the histogram or summary whose _bucket, _sum or _count
// series it is. A histogram has no series under its own name.
func (e exposition) lookup(name string) (*family, error) {
	if slices.Contains(scrapeSeries, name) {
		return &family{kind: "gauge"}, nil
	}
	if f := e[name]; f != nil {
		if f.kind == "histogram" {
			return nil, fmt.Errorf("%s is a histogram: query %[1]s_bucket, %[1]s_sum or %[1]s_count", name)
		}
		return f, nil
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		if f := e[base]; f != nil && (f.kind == "histogram" || f.kind == "summary" && suffix != "_bucket") {
			return f, nil
		}
	}
	return nil, fmt.Errorf("the service exports no metric %s", name)
}

// query is a PromQL expression of the dashboard or the rules, and where it
// was found.
type query struct {
	where string
	expr  string
}

// dashboardQueries returns the expressions of every panel's targets and
// of the query variables of a Grafana dashboard.
func dashboardQueries(t *testing.T, path string) []query {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"` // of a collapsed row
	}
	var d struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var qs []query
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			for _, tg := range p.Targets {
				qs = append(qs, query{fmt.Sprintf("dashboard panel %q", p.Title), tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		// A string, or an object holding the string.
		var s string
		if err := json.Unmarshal(v.Query, &s); err != nil {
			var o struct{ Query string }
			if err := json.Unmarshal(v.Query, &o); err != nil {
				t.Fatalf("%s: variable %s: %v", path, v.Name, err)
			}
			s = o.Query
		}
		qs = append(qs, query{fmt.Sprintf("dashboard variable %s", v.Name), s})
	}
	if len(qs) == 0 {
		t.Fatalf("%s: no queries", path)
	}
	return qs
}

// alertQueries returns the expr of every rule of a rules file. It reads
// the two forms alerts.yml uses, `expr: ...` on one line and `expr: |`
// followed by a more indented block, and fails if it finds fewer
// expressions than rules.
func alertQueries(t *testing.T, path string) []query {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var qs []query
	rules, alert := 0, ""
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))
		if name, ok := strings.CutPrefix(trimmed, "alert:"); ok {
			rules, alert = rules+1, strings.TrimSpace(name)
			continue
		}
		if name, ok := strings.CutPrefix(trimmed, "record:"); ok {
			rules, alert = rules+1, strings.TrimSpace(name)
			continue
		}
		rest, ok := strings.CutPrefix(trimmed, "expr:")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		if rest == "|" || rest == "|-" || rest == ">" || rest == ">-" {
			indent := len(line) - len(strings.TrimLeft(line, " "))
			var block []string
			for i+1 < len(lines) {
				next := lines[i+1]
				if strings.TrimSpace(next) != "" && len(next)-len(strings.TrimLeft(next, " ")) <= indent {
					break
				}
				block = append(block, next)
				i++
			}
			rest = strings.Join(block, "\n")
		} else if uq, err := strconv.Unquote(rest); err == nil {
			rest = uq
		} else if len(rest) >= 2 && rest[0] == '\'' && rest[len(rest)-1] == '\'' {
			rest = strings.ReplaceAll(rest[1:len(rest)-1], "''", "'")
		}
		qs = append(qs, query{fmt.Sprintf("alert %s", alert), rest})
	}
	if rules == 0 || len(qs) != rules {
		t.Fatalf("%s: found %d expressions for %d rules", path, len(qs), rules)
	}
	return qs
}

// refs are the names a PromQL expression uses.
type refs struct {
	metrics []metricRef
	// grouping are the labels of by, without, on, ignoring, group_left
	// and group_right, and of label_values.
	grouping []string
}

// metricRef is a metric selector: its name and the labels it matches on.
type metricRef struct {
	name   string
	labels []string
}

// promqlToken splits PromQL into strings, range and subquery brackets
// (durations and Grafana's $__rate_interval inside), Grafana variables,
// numbers and durations, identifiers and operators. Strings, brackets and
// variables never hold a name to check.
var promqlToken = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`" +
	`|\[[^\]]*\]|\$\{[^}]*\}|\$\w+|#[^\n]*|[0-9][0-9a-zA-Z_.]*|[a-zA-Z_:][a-zA-Z0-9_:]*|=~|!~|!=|==|>=|<=|\S`)

var (
	// promqlGrouping take a parenthesised list of label names.
	promqlGrouping = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
	// promqlKeywords are identifiers that are not metric names wherever
	// they stand: binary operators and modifiers, and the aggregations,
	// which may be followed by a grouping clause instead of "(".
	promqlKeywords = []string{"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
		"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
		"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
	// labelValues is Grafana's label_values(selector, label) variable query.
	labelValues = regexp.MustCompile(`^\s*label_values\((?:(.*),)?\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
)

// promqlRefs returns the metric names of expr, each with the labels its
// matchers name, and the labels of its grouping clauses. Any identifier
// that is not a keyword, a function or aggregation (followed by "("), or
// inside a string or a bracket, is a metric name.
func promqlRefs(expr string) refs {
	var r refs
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		r = promqlRefs(m[1])
		r.grouping = append(r.grouping, m[2])
		return r
	}
	toks := promqlToken.FindAllString(expr, -1)
	next := func(i int) string {
		if i+1 < len(toks) {
			return toks[i+1]
		}
		return ""
	}
	// matchers reads the matchers of the selector opening at toks[i] ("{")
	// into m and returns the index of its "}".
	matchers := func(i int, m *metricRef) int {
		for i++; i < len(toks) && toks[i] != "}"; i++ {
			if isIdent(toks[i]) && slices.Contains([]string{"=", "!=", "=~", "!~"}, next(i)) {
				m.labels = append(m.labels, toks[i])
				if toks[i] == "__name__" && next(i) == "=" && i+2 < len(toks) {
					if name, err := strconv.Unquote(toks[i+2]); err == nil && m.name == "" {
						m.name = name
					}
				}
			}
		}
		return i
	}
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		switch {
		case slices.Contains(promqlGrouping, tok):
			if next(i) != "(" {
				continue
			}
			for i += 2; i < len(toks) && toks[i] != ")"; i++ {
				if isIdent(toks[i]) {
					r.grouping = append(r.grouping, toks[i])
				}
			}
		case tok == "{":
			var m metricRef
			i = matchers(i, &m)
			if m.name != "" {
				r.metrics = append(r.metrics, m)
			}
		case isIdent(tok) && !slices.Contains(promqlKeywords, tok) && next(i) != "(":
			m := metricRef{name: tok}
			if next(i) == "{" {
				i = matchers(i+1, &m)
			}
			r.metrics = append(r.metrics, m)
		}
	}
	return r
}

func isIdent(tok string) bool {
	c := tok[0]
	return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
