//go:build ignore

// render-dashboard draws the panels of the Grafana dashboard
// (grafana/dashboards/productapi.json) from a Prometheus server's
// query_range API, as an HTML page of inline SVG charts laid out on the
// dashboard's grid; render-dashboard.sh screenshots it with headless
// Chromium. Grafana is not needed: every panel's expressions are the
// dashboard's own, its variables set to All.
//
//	go run render-dashboard.go -prom http://127.0.0.1:9090 -start 1700000000 -end 1700000600 -out dashboard.html
//
// It prints the page's height in pixels.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"log"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	pageWidth = 1600
	rowHeight = 30 // pixels per grid unit, as Grafana
	margin    = 8
	header    = 56
	legendRow = 12 // pixels a legend line
)

// The colours of Grafana's classic palette, in order.
var palette = []string{"#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A6",
	"#705DA0", "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477",
	"#B7DBAB", "#F4D598", "#70DBED", "#F9BA8F", "#F29191", "#82B5D8", "#E5A8E2", "#AEA2E0"}

type dashboard struct {
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name     string `json:"name"`
			AllValue string `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Type    string                   `json:"type"`
	Title   string                   `json:"title"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Field   struct {
		Defaults struct {
			Unit       string     `json:"unit"`
			Min        *float64   `json:"min"`
			Max        *float64   `json:"max"`
			Decimals   *int       `json:"decimals"`
			Mappings   []mapping  `json:"mappings"`
			Thresholds thresholds `json:"thresholds"`
		} `json:"defaults"`
		Overrides []struct {
			Matcher struct {
				ID      string `json:"id"`
				Options string `json:"options"`
			} `json:"matcher"`
			Properties []struct {
				ID    string `json:"id"`
				Value any    `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	} `json:"fieldConfig"`
	Targets []struct {
		Expr   string `json:"expr"`
		Legend string `json:"legendFormat"`
		RefID  string `json:"refId"`
	} `json:"targets"`
}

type mapping struct {
	Type    string `json:"type"`
	Options map[string]struct {
		Text  string `json:"text"`
		Color string `json:"color"`
	} `json:"options"`
}

type thresholds struct {
	Steps []struct {
		Color string   `json:"color"`
		Value *float64 `json:"value"`
	} `json:"steps"`
}

// series is one line of a panel.
type series struct {
	name   string
	right  bool // on the right axis, in its own unit
	values []float64
}

type result struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

func main() {
	prom := flag.String("prom", "http://127.0.0.1:9090", "Prometheus base URL")
	file := flag.String("dashboard", "grafana/dashboards/productapi.json", "the dashboard JSON")
	out := flag.String("out", "dashboard.html", "the HTML page to write")
	start := flag.Int64("start", 0, "start, Unix seconds (default: end - 10m)")
	end := flag.Int64("end", 0, "end, Unix seconds (default: now)")
	step := flag.Duration("step", 5*time.Second, "resolution")
	rate := flag.String("rate-interval", "30s", "what $__rate_interval stands for: four scrape intervals")
	note := flag.String("note", "", "a line under the title")
	flag.Parse()

	if *end == 0 {
		*end = time.Now().Unix()
	}
	if *start == 0 {
		*start = *end - 600
	}
	b, err := os.ReadFile(*file)
	if err != nil {
		log.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		log.Fatal(err)
	}
	vars := map[string]string{"__rate_interval": *rate, "__interval": step.String()}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.AllValue
	}
	var times []int64
	for t := *start; t <= *end; t += int64(step.Seconds()) {
		times = append(times, t)
	}

	var body strings.Builder
	bottom := 0
	for _, p := range d.Panels {
		x := margin + p.GridPos.X*(pageWidth-margin)/24
		w := p.GridPos.W*(pageWidth-margin)/24 - margin
		y := header + p.GridPos.Y*rowHeight
		h := p.GridPos.H*rowHeight - margin
		bottom = max(bottom, y+h)
		if p.Type == "row" {
			fmt.Fprintf(&body, `<div class="row" style="left:%dpx;top:%dpx;width:%dpx">%s</div>`, x, y+6, w, html.EscapeString(p.Title))
			continue
		}
		var ss []series
		for _, t := range p.Targets {
			right := false
			for _, o := range p.Field.Overrides {
				if o.Matcher.ID == "byFrameRefID" && o.Matcher.Options == t.RefID {
					for _, pr := range o.Properties {
						right = right || pr.ID == "custom.axisPlacement" && pr.Value == "right"
					}
				}
			}
			got, err := queryRange(*prom, expand(t.Expr, vars), *start, *end, *step, times)
			if err != nil {
				log.Fatalf("panel %q: %v", p.Title, err)
			}
			for _, s := range got {
				s.name = legend(t.Legend, s.name)
				s.right = right
				ss = append(ss, s)
			}
		}
		fmt.Fprintf(&body, `<div class="panel" style="left:%dpx;top:%dpx;width:%dpx;height:%dpx"><div class="title">%s</div>`,
			x, y, w, h, html.EscapeString(p.Title))
		if p.Type == "stat" {
			body.WriteString(stat(p, ss, w, h-28))
		} else {
			body.WriteString(chart(p, ss, times, w, h-28))
		}
		body.WriteString(`</div>`)
	}
	height := bottom + margin
	subtitle := fmt.Sprintf("%s to %s UTC", time.Unix(*start, 0).UTC().Format("2006-01-02 15:04:05"), time.Unix(*end, 0).UTC().Format("15:04:05"))
	if *note != "" {
		subtitle += " · " + *note
	}
	page := fmt.Sprintf(`<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;background:#111217;color:#ccccdc;font:12px Inter,Helvetica,Arial,sans-serif;width:%dpx;height:%dpx;position:relative;overflow:hidden}
h1{position:absolute;left:%dpx;top:6px;margin:0;font-size:18px;font-weight:500;color:#fff}
.sub{position:absolute;left:%dpx;top:32px;color:#8e8e9e}
.row{position:absolute;font-size:14px;font-weight:500;color:#fff}
.panel{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:2px;box-sizing:border-box;overflow:hidden}
.title{height:24px;line-height:24px;padding:0 8px;font-weight:500;color:#ccccdc;white-space:nowrap;overflow:hidden}
svg text{fill:#8e8e9e;font-size:10px}
</style></head><body><h1>%s</h1><div class="sub">%s</div>%s</body></html>
`, pageWidth, height, margin+2, margin+2, html.EscapeString(d.Title), html.EscapeString(subtitle), body.String())
	if err := os.WriteFile(*out, []byte(page), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Println(height)
}

var variable = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

// expand replaces the dashboard's variables as Grafana would with All
// selected.
func expand(expr string, vars map[string]string) string {
	return variable.ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.Trim(m, "${}")
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

var legendLabel = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// legend fills a legend format from the labels packed in name by
// queryRange ("a=x\x00b=y").
func legend(format, packed string) string {
	labels := map[string]string{}
	for _, kv := range strings.Split(packed, "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			labels[k] = v
		}
	}
	if format == "" {
		var parts []string
		for k, v := range labels {
			parts = append(parts, k+"="+v)
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
	s := legendLabel.ReplaceAllStringFunc(format, func(m string) string {
		return labels[legendLabel.FindStringSubmatch(m)[1]]
	})
	return strings.TrimSpace(s)
}

func queryRange(base, expr string, start, end int64, step time.Duration, times []int64) ([]series, error) {
	q := url.Values{"query": {expr}, "start": {strconv.FormatInt(start, 10)}, "end": {strconv.FormatInt(end, 10)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	resp, err := http.Get(base + "/api/v1/query_range?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %v", b, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", expr, r.Error)
	}
	var out []series
	for _, m := range r.Data.Result {
		var keys []string
		for k, v := range m.Metric {
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		s := series{name: strings.Join(keys, "\x00"), values: make([]float64, len(times))}
		for i := range s.values {
			s.values[i] = math.NaN()
		}
		for _, v := range m.Values {
			t, _ := v[0].(float64)
			str, _ := v[1].(string)
			f, err := strconv.ParseFloat(str, 64)
			if err != nil {
				continue
			}
			if i := int((int64(t) - start) / int64(step.Seconds())); i >= 0 && i < len(times) {
				s.values[i] = f
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// chart draws a time series panel: the lines, a y axis for each unit, a
// time axis and a legend.
func chart(p panel, ss []series, times []int64, w, h int) string {
	unit := p.Field.Defaults.Unit
	rightUnit := unit
	for _, o := range p.Field.Overrides {
		for _, pr := range o.Properties {
			if pr.ID == "unit" {
				rightUnit, _ = pr.Value.(string)
			}
		}
	}
	// A series with no value at all (a ratio of two zero counters) would
	// only take a place in the legend.
	ss = slices.DeleteFunc(ss, func(s series) bool {
		return !slices.ContainsFunc(s.values, func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) })
	})
	// The legend takes as many columns as its longest name allows, at about
	// 5 pixels a character of the 10px font, and up to 5 rows.
	longest := 0
	for _, s := range ss {
		longest = max(longest, len([]rune(s.name)))
	}
	cols := min(max(w/(longest*5+24), 2), 6)
	legendRows := min((len(ss)+cols-1)/cols, 5)
	hasRight := slices.ContainsFunc(ss, func(s series) bool { return s.right })
	plotBottom := h - 20 - legendRows*legendRow
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%d">`, w, h)
	if len(ss) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" style="font-size:13px">No data</text></svg>`, w/2, h/2)
		return b.String()
	}
	axis := func(right bool) (lo, hi float64) {
		lo, hi = 0, math.Inf(-1)
		for _, s := range ss {
			if s.right != right {
				continue
			}
			for _, v := range s.values {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					hi = max(hi, v)
					lo = min(lo, v)
				}
			}
		}
		if d := p.Field.Defaults; !right && d.Max != nil {
			hi = *d.Max
		}
		if math.IsInf(hi, -1) || hi <= lo {
			hi = lo + 1
		}
		return lo, niceCeil(hi)
	}
	lo, hi := axis(false)
	rlo, rhi := axis(true)
	// The axes are as wide as their longest label, at about 6 pixels a
	// character of the 10px font.
	var labels, rlabels [5]string
	plotLeft, plotRight := 24, w-10
	for k := range labels {
		labels[k] = format(lo+(hi-lo)*float64(k)/4, unit, p)
		plotLeft = max(plotLeft, 10+6*len([]rune(labels[k])))
		if hasRight {
			rlabels[k] = format(rlo+(rhi-rlo)*float64(k)/4, rightUnit, p)
			plotRight = min(plotRight, w-10-6*len([]rune(rlabels[k])))
		}
	}
	plotTop := 6
	yOf := func(v, lo, hi float64) float64 {
		return float64(plotBottom) - (v-lo)/(hi-lo)*float64(plotBottom-plotTop)
	}
	xOf := func(i int) float64 {
		return float64(plotLeft) + float64(i)/float64(max(len(times)-1, 1))*float64(plotRight-plotLeft)
	}
	for k := range labels {
		y := yOf(lo+(hi-lo)*float64(k)/4, lo, hi)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#2c3235"/>`, plotLeft, plotRight, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, plotLeft-4, y+3, html.EscapeString(labels[k]))
		if hasRight {
			fmt.Fprintf(&b, `<text x="%d" y="%.1f">%s</text>`, plotRight+4, y+3, html.EscapeString(rlabels[k]))
		}
	}
	span := times[len(times)-1] - times[0]
	every := int64(60)
	for span/every > 8 {
		every *= 2
	}
	for i, t := range times {
		if t%every == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, xOf(i), plotBottom+12, time.Unix(t, 0).UTC().Format("15:04"))
		}
	}
	for n, s := range ss {
		color := palette[n%len(palette)]
		l, hgh := lo, hi
		if s.right {
			l, hgh = rlo, rhi
		}
		var path strings.Builder
		pen := false
		for i, v := range s.values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				pen = false
				continue
			}
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f,%.1f ", cmd, xOf(i), yOf(v, l, hgh))
			pen = true
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"/>`, path.String(), color)
	}
	colW := (w - 16) / cols
	for n, s := range ss {
		lx := 8 + (n%cols)*colW
		ly := plotBottom + 30 + (n/cols)*legendRow
		if slots := legendRows * cols; n == slots-1 && len(ss) > slots {
			fmt.Fprintf(&b, `<text x="%d" y="%d">+%d more</text>`, lx+14, ly, len(ss)-n)
			break
		}
		name := []rune(s.name)
		if fit := (colW - 18) / 5; len(name) > fit {
			name = append(name[:fit-1], '…')
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="3" fill="%s"/><text x="%d" y="%d" style="fill:#ccccdc">%s</text>`,
			lx, ly-4, palette[n%len(palette)], lx+14, ly, html.EscapeString(string(name)))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// stat draws a stat panel: the last value, coloured by the thresholds or
// the value mappings, over a sparkline.
func stat(p panel, ss []series, w, h int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg width="%d" height="%d">`, w, h)
	if len(ss) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" style="font-size:13px">No data</text></svg>`, w/2, h/2)
		return b.String()
	}
	vals := ss[0].values
	last := math.NaN()
	for _, v := range vals {
		if !math.IsNaN(v) {
			last = v
		}
	}
	text, color := format(last, p.Field.Defaults.Unit, p), "#ccccdc"
	for _, st := range p.Field.Defaults.Thresholds.Steps {
		if st.Value == nil || last >= *st.Value {
			color = grafanaColor(st.Color)
		}
	}
	for _, m := range p.Field.Defaults.Mappings {
		if o, ok := m.Options[strconv.FormatFloat(last, 'f', -1, 64)]; ok {
			text = o.Text
			if o.Color != "" {
				color = grafanaColor(o.Color)
			}
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if hi <= lo {
		hi = lo + 1
	}
	var path strings.Builder
	pen := false
	for i, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			pen = false
			continue
		}
		x := float64(i) / float64(max(len(vals)-1, 1)) * float64(w)
		y := float64(h) - (v-lo)/(hi-lo)*float64(h)*0.45
		cmd := "L"
		if !pen {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%.1f,%.1f ", cmd, x, y)
		pen = true
	}
	fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-opacity="0.6" stroke-width="1.5"/>`, path.String(), color)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" style="fill:%s;font-size:30px;font-weight:500">%s</text></svg>`,
		w/2, h/2+6, color, html.EscapeString(text))
	return b.String()
}

func grafanaColor(c string) string {
	switch c {
	case "green":
		return "#73BF69"
	case "orange":
		return "#FF9830"
	case "red":
		return "#F2495C"
	}
	return c
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p*1.0000001 {
			return m * p
		}
	}
	return 10 * p
}

// format writes v in one of the dashboard's units.
func format(v float64, unit string, p panel) string {
	if math.IsNaN(v) {
		return "–"
	}
	switch unit {
	case "percentunit":
		d := 0
		if p.Field.Defaults.Decimals != nil {
			d = *p.Field.Defaults.Decimals
		}
		return strconv.FormatFloat(v*100, 'f', d, 64) + "%"
	case "s":
		switch a := math.Abs(v); {
		case a == 0:
			return "0 s"
		case a < 1e-3:
			return trim(v*1e6) + " µs"
		case a < 1:
			return trim(v*1e3) + " ms"
		}
		return trim(v) + " s"
	case "reqps":
		return short(v) + " req/s"
	case "ops":
		return short(v) + " ops/s"
	case "Bps":
		return bytes(v) + "/s"
	}
	return short(v)
}

func short(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return trim(v/1e6) + "M"
	case a >= 1e3:
		return trim(v/1e3) + "k"
	}
	return trim(v)
}

func bytes(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1<<20:
		return trim(v/(1<<20)) + " MiB"
	case a >= 1<<10:
		return trim(v/(1<<10)) + " KiB"
	}
	return trim(v) + " B"
}

// trim formats v with up to three significant digits.
func trim(v float64) string {
	s := strconv.FormatFloat(v, 'g', 3, 64)
	if strings.ContainsAny(s, "e") {
		s = strconv.FormatFloat(v, 'f', 0, 64)
	}
	return s
}
