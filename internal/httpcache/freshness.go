package httpcache

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Freshness as a shared cache computes it (RFC 9111 §4.2), from the
// response's own Cache-Control, or from a targeted field (RFC 9213,
// CDN-Cache-Control) when the response has a valid one.

// TargetedField is the cache-control field for caches like this one that
// takes precedence over Cache-Control when present (RFC 9213).
const TargetedField = "Cdn-Cache-Control"

// maxDelta is what a delta-seconds value too large to represent counts as
// (RFC 9111 §1.2.2).
const maxDelta = math.MaxInt32 + 1

// Directives are the response directives a shared cache acts on. Durations
// are in seconds, -1 when absent.
type Directives struct {
	NoStore, NoCache, Private, Public  bool
	MustRevalidate, ProxyRevalidate    bool
	MaxAge, SMaxAge                    int64
	StaleWhileRevalidate, StaleIfError int64
	// Invalid is set when a directive that governs freshness has a
	// malformed value, or two different ones: the response is then stale
	// (RFC 9111 §4.2.1).
	Invalid bool
}

// ParseDirectives parses the values of a Cache-Control (or targeted) field.
// Directive names are case-insensitive; arguments may be tokens or quoted
// strings.
func ParseDirectives(fields []string) Directives {
	d := Directives{MaxAge: -1, SMaxAge: -1, StaleWhileRevalidate: -1, StaleIfError: -1}
	for _, v := range fields {
		for _, item := range splitList(v) {
			name, arg, hasArg := strings.Cut(item, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			arg = unquote(strings.TrimSpace(arg))
			switch name {
			case "no-store":
				d.NoStore = true
			case "no-cache":
				// The qualified form (no-cache="Set-Cookie") lets a cache
				// serve the rest; treating it as the whole directive is the
				// conservative reading.
				d.NoCache = true
			case "private":
				d.Private = true
			case "public":
				d.Public = true
			case "must-revalidate":
				d.MustRevalidate = true
			case "proxy-revalidate":
				d.ProxyRevalidate = true
			case "max-age":
				d.delta(&d.MaxAge, arg, hasArg)
			case "s-maxage":
				d.delta(&d.SMaxAge, arg, hasArg)
			case "stale-while-revalidate":
				d.delta(&d.StaleWhileRevalidate, arg, hasArg)
			case "stale-if-error":
				d.delta(&d.StaleIfError, arg, hasArg)
			}
		}
	}
	return d
}

// delta sets *dst from a delta-seconds argument, marking the directives
// invalid for a missing or malformed one, or one that contradicts an
// earlier occurrence.
func (d *Directives) delta(dst *int64, arg string, hasArg bool) {
	n, ok := parseDelta(arg)
	if !hasArg || !ok || (*dst >= 0 && *dst != n) {
		d.Invalid = true
		return
	}
	*dst = n
}

// parseDelta parses delta-seconds: digits only, saturating at maxDelta.
func parseDelta(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDelta), true
}

// splitList splits a comma-separated field value, leaving commas inside
// quoted strings alone.
func splitList(v string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case '\\':
			if quoted {
				i++
			}
		case ',':
			if !quoted {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
		return s[1 : len(s)-1]
	}
	return s
}

// SharedWithAuthorization reports whether a response to a request with
// Authorization may be stored by a shared cache (RFC 9111 §3.5): it says
// public, s-maxage or must-revalidate.
func (d Directives) SharedWithAuthorization() bool {
	return d.Public || d.SMaxAge >= 0 || d.MustRevalidate
}

// ResponseDirectives returns the directives of a response for a shared
// cache: those of the targeted field when the response has one, else those
// of Cache-Control.
func ResponseDirectives(h http.Header) Directives {
	if v := h.Values(TargetedField); len(v) > 0 {
		return ParseDirectives(v)
	}
	return ParseDirectives(h.Values("Cache-Control"))
}

// Freshness is what a response says about how long it may be served.
type Freshness struct {
	// Lifetime is the freshness lifetime (§4.2.1); Explicit is false when
	// the response states none, and Lifetime is then 0.
	Lifetime time.Duration
	Explicit bool
	// InitialAge is the response's age when it arrived (§4.2.3).
	InitialAge time.Duration
	// StaleWhileRevalidate and StaleIfError are how long past its
	// lifetime the response may be served while it is refreshed, and when
	// refreshing fails (RFC 5861); 0 when not allowed.
	StaleWhileRevalidate, StaleIfError time.Duration
	// Date is the response's Date, or its arrival without a valid one.
	Date time.Time
}

// Remaining is how long the response stays fresh from its arrival: its
// lifetime less its initial age, never negative.
func (f Freshness) Remaining() time.Duration { return max(f.Lifetime-f.InitialAge, 0) }

// FreshnessOf computes the freshness of a response with header h and
// directives d that arrived at responseTime after a request sent at
// requestTime.
func FreshnessOf(h http.Header, d Directives, requestTime, responseTime time.Time) Freshness {
	var f Freshness
	date, dateOK := parseDate(h.Values("Date"))
	if !dateOK {
		date = responseTime
	}
	f.Date = date
	switch {
	case d.Invalid:
		f.Explicit = true // stale: a parse error is no permission
	case d.SMaxAge >= 0:
		f.Lifetime, f.Explicit = seconds(d.SMaxAge), true
	case d.MaxAge >= 0:
		f.Lifetime, f.Explicit = seconds(d.MaxAge), true
	default:
		if ex := h.Values("Expires"); len(ex) > 0 {
			f.Explicit = true
			// An invalid date, "0" above all, is a time in the past (§5.3).
			if expires, ok := parseDate(ex); ok && expires.After(date) {
				f.Lifetime = expires.Sub(date)
			}
		}
	}
	// §4.2.3: the age the response had on arrival.
	apparent := max(responseTime.Sub(date), 0)
	ageValue := time.Duration(0)
	if a, ok := parseDelta(strings.TrimSpace(h.Get("Age"))); ok {
		ageValue = seconds(a)
	}
	f.InitialAge = max(apparent, ageValue+max(responseTime.Sub(requestTime), 0))
	if !d.MustRevalidate && !d.ProxyRevalidate && !d.NoCache {
		if d.StaleWhileRevalidate > 0 {
			f.StaleWhileRevalidate = seconds(d.StaleWhileRevalidate)
		}
		if d.StaleIfError > 0 {
			f.StaleIfError = seconds(d.StaleIfError)
		}
	}
	if d.NoCache {
		f.Lifetime, f.Explicit = 0, true
	}
	return f
}

func seconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// parseDate parses the first value of a date field; more than one value
// is as bad as an invalid one.
func parseDate(values []string) (time.Time, bool) {
	if len(values) != 1 {
		return time.Time{}, false
	}
	t, err := http.ParseTime(strings.TrimSpace(values[0]))
	return t, err == nil
}

// StoreTTL returns how long a response with status and header h, whose
// freshness is f, is kept fresh from its arrival; 0 means it is not
// stored. With originMax 0 (an application's route) the route's TTL is the
// bound and the response may only ask for less; with originMax set (a
// shared cache in front of an origin) the response's own freshness counts,
// up to originMax, and a response that states none gets the heuristic
// freshness of RFC 9111 §4.2.2 (10% of the time since its Last-Modified)
// if its status allows, else none.
func StoreTTL(status int, h http.Header, f Freshness, routeTTL, originMax time.Duration) time.Duration {
	switch {
	case f.Explicit && originMax == 0:
		return min(routeTTL, f.Remaining())
	case f.Explicit:
		return min(originMax, f.Remaining())
	case originMax == 0:
		return routeTTL
	}
	lm, ok := parseDate(h.Values("Last-Modified"))
	if !ok || !heuristicallyCacheable(status) || !lm.Before(f.Date) {
		return 0
	}
	return min(originMax, max(f.Date.Sub(lm)/10-f.InitialAge, 0))
}

// heuristicallyCacheable reports the statuses RFC 9110 §15.1 lets a cache
// give heuristic freshness.
func heuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}
