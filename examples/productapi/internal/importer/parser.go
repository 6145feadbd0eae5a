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

// maxChunk caps the rows of one batch value travelling from the parser to
// the writer, so that memory does not grow with Options.BatchSize: a
// transaction of BatchSize rows is written as several chunks.
const maxChunk = 1000

// batch is a chunk of parsed rows travelling from the parser to the writer.
// endTx marks the last chunk of a transaction.
type batch[T any] struct {
	rows  []T
	endTx bool
}

// dedupeScope says where a writer cannot take the same key twice.
type dedupeScope int

const (
	// dedupeNone: the writer applies rows one by one.
	dedupeNone dedupeScope = iota
	// dedupeChunk: a key may appear once per chunk.
	dedupeChunk
	// dedupeTx: a key may appear once per transaction.
	dedupeTx
)

// parser reads and validates CSV records on its own goroutine and sends
// chunks on batches, marking where each transaction ends: after
// Options.BatchSize rows, and, when scope asks for it, before a row whose
// key is already in the chunk or transaction, so that repeated keys still
// apply in file order. failed, errs and err are written by the parser
// goroutine only and read after batches is closed; so is omitted.
type parser[T any] struct {
	in      *countingReader
	f       *format[T]
	opts    Options
	scope   dedupeScope
	start   time.Time
	batches chan *batch[T]
	free    chan *batch[T]

	rows atomic.Int64 // data rows read so far

	failed  int64
	errs    []RowError
	omitted int64 // errors left out of errs, which was full
	err     error
}

func newParser[T any](r io.Reader, f *format[T], opts Options, scope dedupeScope, start time.Time) *parser[T] {
	p := &parser[T]{
		in:    &countingReader{r: r},
		f:     f,
		opts:  opts,
		scope: scope,
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
	b.endTx = false
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
		return &batch[T]{rows: make([]T, 0, p.chunk())}
	}
}

func (p *parser[T]) chunk() int { return min(p.opts.BatchSize, maxChunk) }

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
	} else {
		p.omitted++
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
		keys     = make(map[string]struct{}) // keys in the current scope
		txRows   int
		next     = time.Now().Add(progressInterval)
		line     int
		rowOK    bool
		badField = func(column, reason string) {
			p.report(line, column, reason)
			rowOK = false
		}
	)
	send := func(endTx bool) bool {
		if len(b.rows) == 0 && !(endTx && txRows > 0) {
			return true
		}
		b.endTx = endTx
		select {
		case p.batches <- b:
		case <-ctx.Done():
			return false
		}
		b = p.newBatch()
		if endTx || p.scope == dedupeChunk {
			clear(keys)
		}
		if endTx {
			txRows = 0
		}
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
		if p.scope != dedupeNone {
			k := p.f.key(row)
			if _, dup := keys[k]; dup {
				// The earlier row must land first, in an earlier
				// chunk or transaction.
				last := *row
				b.rows = b.rows[:len(b.rows)-1]
				if !send(p.scope == dedupeTx) {
					return ctx.Err()
				}
				b.rows = append(b.rows, last)
			}
			// A clone: the key must not pin the whole record's memory.
			keys[strings.Clone(k)] = struct{}{}
		}
		txRows++
		switch {
		case txRows >= p.opts.BatchSize:
			if !send(true) {
				return ctx.Err()
			}
		case len(b.rows) >= p.chunk():
			if !send(false) {
				return ctx.Err()
			}
		}
	}
	if !send(true) {
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
