package importer

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestTerminalProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	show := TerminalProgress(&buf, 1000) // not a terminal: plain lines
	show(Progress{Rows: 10, Bytes: 100, Elapsed: 100 * time.Millisecond, RowsPerSecond: 100})
	show(Progress{Rows: 20, Bytes: 200, Elapsed: time.Second, RowsPerSecond: 20}) // throttled
	show(Progress{Rows: 50, Bytes: 500, Elapsed: 2500 * time.Millisecond, RowsPerSecond: 20})
	show(Progress{Rows: 90, Bytes: 1000, Elapsed: 3 * time.Second, RowsPerSecond: 30, Done: true})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		"10 rows read, 0.0 MB of 0.0 MB (10%), 100 rows/s, 0s elapsed, ETA 1s",
		"50 rows read, 0.0 MB of 0.0 MB (50%), 20 rows/s, 3s elapsed, ETA 3s",
		"90 rows read, 0.0 MB of 0.0 MB (100%), 30 rows/s, 3s elapsed, done",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestTerminalProgressUnknownSize(t *testing.T) {
	var buf bytes.Buffer
	show := TerminalProgress(&buf, 0)
	show(Progress{Rows: 1500000, Bytes: 300e6, Elapsed: 10 * time.Second, RowsPerSecond: 150000, Done: true})
	if got, want := strings.TrimSpace(buf.String()), "1500000 rows read, 300.0 MB, 150000 rows/s, 10s elapsed, done"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestTerminalProgressBar drives the bar on a writer that is not a terminal
// (the bar itself does not care): it must render and finish without panics.
func TestTerminalProgressBar(t *testing.T) {
	var buf bytes.Buffer
	for _, total := range []int64{1000, 0} {
		show := barProgress(&buf, total)
		show(Progress{Rows: 10, Bytes: 100, Elapsed: time.Second, RowsPerSecond: 10})
		show(Progress{Rows: 100, Bytes: 1200, Elapsed: 2 * time.Second, RowsPerSecond: 50, Done: true})
		show(Progress{Rows: 100, Bytes: 1200, Elapsed: 3 * time.Second, Done: true}) // ignored
	}
	if !strings.Contains(buf.String(), "100 rows, 50 rows/s") {
		t.Errorf("bar output %q lacks the row rate", buf.String())
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file is a terminal")
	}
}
