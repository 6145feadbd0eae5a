package importer

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Summary is the outcome of one import. Inserted + Updated + Unchanged +
// Failed is the number of data rows read (when the import ran to the end).
//
// In JSON, Elapsed is written twice: "elapsed_ms" (integer milliseconds, for
// programs) and "elapsed" (Go duration text such as "1.5s", for people);
// decoding reads elapsed_ms.
type Summary struct {
	Inserted  int64         `json:"inserted"`
	Updated   int64         `json:"updated"`
	Unchanged int64         `json:"unchanged"`
	Failed    int64         `json:"failed"`
	Elapsed   time.Duration `json:"-"`
	// Errors lists the first Options.MaxReportedErrors problems, in file
	// order; a row may contribute one error per bad column.
	Errors []RowError `json:"errors"`
	// ErrorsOmitted counts the problems left out of Errors because it was
	// full: 0 when Errors lists them all.
	ErrorsOmitted int64 `json:"errors_omitted"`
	// TouchedCategories lists, sorted, the ids of the categories whose
	// content changed.
	TouchedCategories []int64 `json:"touched_categories"`
}

// RowError is one problem with one row of the input.
type RowError struct {
	// Line is the 1-based line of the file on which the row starts (the
	// header is line 1; a quoted field with line breaks spans several).
	Line int `json:"line"`
	// Column is the CSV header name of the bad field, or "" for a problem
	// with the whole row (wrong number of columns, malformed quoting).
	Column string `json:"column"`
	Reason string `json:"reason"`
}

// String returns "line N: column: reason", or "line N: reason" for a
// problem with the whole row.
func (e RowError) String() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Column, e.Reason)
}

type summaryJSON struct {
	Inserted          int64      `json:"inserted"`
	Updated           int64      `json:"updated"`
	Unchanged         int64      `json:"unchanged"`
	Failed            int64      `json:"failed"`
	ElapsedMS         int64      `json:"elapsed_ms"`
	Elapsed           string     `json:"elapsed"`
	Errors            []RowError `json:"errors"`
	ErrorsOmitted     int64      `json:"errors_omitted"`
	TouchedCategories []int64    `json:"touched_categories"`
}

// MarshalJSON writes the summary with snake_case fields; Errors and
// TouchedCategories are [] rather than null when empty.
func (s Summary) MarshalJSON() ([]byte, error) {
	j := summaryJSON{
		Inserted: s.Inserted, Updated: s.Updated, Unchanged: s.Unchanged, Failed: s.Failed,
		ElapsedMS: s.Elapsed.Milliseconds(), Elapsed: s.Elapsed.Round(time.Millisecond).String(),
		Errors: s.Errors, ErrorsOmitted: s.ErrorsOmitted, TouchedCategories: s.TouchedCategories,
	}
	if j.Errors == nil {
		j.Errors = []RowError{}
	}
	if j.TouchedCategories == nil {
		j.TouchedCategories = []int64{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Summary) UnmarshalJSON(b []byte) error {
	var j summaryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Summary{
		Inserted: j.Inserted, Updated: j.Updated, Unchanged: j.Unchanged, Failed: j.Failed,
		Elapsed: time.Duration(j.ElapsedMS) * time.Millisecond,
		Errors:  j.Errors, ErrorsOmitted: j.ErrorsOmitted, TouchedCategories: j.TouchedCategories,
	}
	return nil
}

// String is the summary as the CLI prints it: one line of counts, then the
// reported row errors, one per line, then how many were left out, if any.
func (s Summary) String() string {
	var b strings.Builder
	total := s.Inserted + s.Updated + s.Unchanged + s.Failed
	fmt.Fprintf(&b, "%d rows in %s: %d inserted, %d updated, %d unchanged, %d failed",
		total, s.Elapsed.Round(time.Millisecond), s.Inserted, s.Updated, s.Unchanged, s.Failed)
	if s.Elapsed > 0 {
		fmt.Fprintf(&b, " (%.0f rows/s)", float64(total)/s.Elapsed.Seconds())
	}
	for _, e := range s.Errors {
		b.WriteString("\n  ")
		b.WriteString(e.String())
	}
	if s.ErrorsOmitted > 0 {
		fmt.Fprintf(&b, "\n  … and %d more errors not listed (%d bad rows in all)", s.ErrorsOmitted, s.Failed)
	}
	return b.String()
}
