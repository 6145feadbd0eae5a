package importer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// format describes one CSV file: its header and how a record becomes a row.
type format[T any] struct {
	header []string
	// parse fills row from rec, a record with len(header) fields starting on
	// line, and reports each invalid field through bad. It returns false if
	// the row is invalid.
	parse func(rec []string, line int, row *T, bad func(column, reason string)) bool
	// key identifies a row in its table; two rows with the same key in one
	// batch are split into two batches so they apply in file order.
	key func(*T) string
}

// batch is a slice of parsed rows travelling from the parser to the writer.
type batch[T any] struct {
	rows []T
}

// parser reads and validates CSV records on its own goroutine and sends
// full batches on batches. failed, errs and err are written by the parser
// goroutine only and read after batches is closed.
type parser[T any] struct {
	in      *countingReader
	f       *format[T]
	opts    Options
	start   time.Time
	batches chan *batch[T]
	free    chan *batch[T]

	rows atomic.Int64 // data rows read so far

	failed int64
	errs   []RowError
	err    error
}

func newParser[T any](r io.Reader, f *format[T], opts Options, start time.Time) *parser[T] {
	p := &parser[T]{
		in:    &countingReader{r: r},
		f:     f,
		opts:  opts,
		start: start,
		// One batch being written, one queued, one being filled.
		batches: make(chan *batch[T], 1),
		free:    make(chan *batch[T], 3),
	}
	return p
}

// recycle hands a written batch back to the parser for reuse.
func (p *parser[T]) recycle(b *batch[T]) {
	clear(b.rows) // drop string references
	b.rows = b.rows[:0]
	select {
	case p.free <- b:
	default:
	}
}

func (p *parser[T]) newBatch() *batch[T] {
	select {
	case b := <-p.free:
		return b
	default:
		return &batch[T]{rows: make([]T, 0, p.opts.BatchSize)}
	}
}

func (p *parser[T]) snapshot(done bool) Progress {
	el := time.Since(p.start)
	rows := p.rows.Load()
	pr := Progress{Rows: rows, Bytes: p.in.n.Load(), Elapsed: el, Done: done}
	if el > 0 {
		pr.RowsPerSecond = float64(rows) / el.Seconds()
	}
	return pr
}

func (p *parser[T]) report(line int, column, reason string) {
	if len(p.errs) < p.opts.MaxReportedErrors {
		p.errs = append(p.errs, RowError{Line: line, Column: column, Reason: reason})
	}
}

// run parses the whole input, then closes p.batches.
func (p *parser[T]) run(ctx context.Context) {
	defer close(p.batches)
	p.err = p.parse(ctx)
}

func (p *parser[T]) parse(ctx context.Context) error {
	br := bufio.NewReaderSize(p.in, 256<<10)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\xEF\xBB\xBF")) {
		br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // counted per row, to report it as a row error
	cr.ReuseRecord = true

	hdr, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: empty input", ErrHeader)
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("%w: %v", ErrHeader, err)
		}
		return fmt.Errorf("importer: reading header: %w", err)
	}
	if !headerMatches(hdr, p.f.header) {
		return fmt.Errorf("%w: got %q, want %q", ErrHeader, strings.Join(hdr, ","), strings.Join(p.f.header, ","))
	}

	var (
		b        = p.newBatch()
		keys     = make(map[string]struct{}, p.opts.BatchSize)
		next     = time.Now().Add(progressInterval)
		line     int
		rowOK    bool
		badField = func(column, reason string) {
			p.report(line, column, reason)
			rowOK = false
		}
	)
	send := func() bool {
		if len(b.rows) == 0 {
			return true
		}
		select {
		case p.batches <- b:
		case <-ctx.Done():
			return false
		}
		b = p.newBatch()
		clear(keys)
		return true
	}
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if p.opts.Progress != nil && time.Now().After(next) {
				p.opts.Progress(p.snapshot(false))
				next = time.Now().Add(progressInterval)
			}
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("importer: reading input: %w", err)
			}
			p.rows.Add(1)
			p.failed++
			p.report(pe.StartLine, "", "malformed CSV: "+pe.Err.Error())
			continue
		}
		p.rows.Add(1)
		line, _ = cr.FieldPos(0)
		if len(rec) != len(p.f.header) {
			p.failed++
			p.report(line, "", fmt.Sprintf("expected %d columns, got %d", len(p.f.header), len(rec)))
			continue
		}
		b.rows = append(b.rows, *new(T))
		row := &b.rows[len(b.rows)-1]
		rowOK = true
		if !p.f.parse(rec, line, row, badField) || !rowOK {
			b.rows = b.rows[:len(b.rows)-1]
			p.failed++
			continue
		}
		k := p.f.key(row)
		if _, dup := keys[k]; dup {
			// Keep file order: the earlier row must land before this one.
			last := *row
			b.rows = b.rows[:len(b.rows)-1]
			if !send() {
				return ctx.Err()
			}
			b.rows = append(b.rows, last)
			k = p.f.key(&b.rows[0])
		}
		keys[k] = struct{}{}
		if len(b.rows) >= p.opts.BatchSize {
			if !send() {
				return ctx.Err()
			}
		}
	}
	if !send() {
		return ctx.Err()
	}
	return nil
}

// headerMatches compares a header line with the expected column names,
// ignoring case and surrounding spaces.
func headerMatches(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.EqualFold(strings.TrimSpace(got[i]), want[i]) {
			return false
		}
	}
	return true
}

// countingReader counts the bytes read through it; n is read by the
// progress reporter.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
