package importer

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// plainInterval is how often TerminalProgress writes a line when w is not a
// terminal.
const plainInterval = 2 * time.Second

// TerminalProgress returns an [Options.Progress] callback that shows the
// import on w. total is the size of the input in bytes, or 0 if unknown
// (a pipe, an upload without a length).
//
// On a terminal it draws a progress bar over the bytes read, with rows read,
// rows per second and the estimated time left (a spinner when total is
// unknown). Otherwise, for logs and CI, it writes a plain line every two
// seconds and a last one when the import is done. The callback must not be
// called concurrently, which the importer guarantees.
func TerminalProgress(w io.Writer, total int64) func(Progress) {
	if isTerminal(w) {
		return barProgress(w, total)
	}
	return plainProgress(w, total)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

func barProgress(w io.Writer, total int64) func(Progress) {
	max := total
	if max <= 0 {
		max = -1 // spinner
	}
	bar := progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetRenderBlankState(true),
	)
	finished := false
	return func(p Progress) {
		if finished {
			return
		}
		bar.Describe(fmt.Sprintf("%d rows, %.0f rows/s", p.Rows, p.RowsPerSecond))
		if total > 0 && p.Bytes > total {
			p.Bytes = total
		}
		bar.Set64(p.Bytes)
		if p.Done {
			finished = true
			bar.Finish()
			fmt.Fprintln(w)
		}
	}
}

func plainProgress(w io.Writer, total int64) func(Progress) {
	var next time.Duration
	return func(p Progress) {
		if !p.Done && p.Elapsed < next {
			return
		}
		next = p.Elapsed + plainInterval
		fmt.Fprintln(w, progressLine(p, total))
	}
}

// progressLine is one plain progress line.
func progressLine(p Progress, total int64) string {
	s := fmt.Sprintf("%d rows read, %s", p.Rows, mb(p.Bytes))
	if total > 0 {
		s += fmt.Sprintf(" of %s (%.0f%%)", mb(total), 100*float64(min(p.Bytes, total))/float64(total))
	}
	s += fmt.Sprintf(", %.0f rows/s, %s elapsed", p.RowsPerSecond, p.Elapsed.Round(time.Second))
	switch {
	case p.Done:
		s += ", done"
	case total > 0 && p.Bytes > 0 && p.Bytes < total:
		left := time.Duration(float64(p.Elapsed) * float64(total-p.Bytes) / float64(p.Bytes))
		s += fmt.Sprintf(", ETA %s", left.Round(time.Second))
	}
	return s
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
