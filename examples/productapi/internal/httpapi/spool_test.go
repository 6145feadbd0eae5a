package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// chunked hides the length of its reader, as a chunked upload (curl -T -)
// does.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

// failing returns its data, then err.
type failing struct {
	data []byte
	err  error
}

func (f *failing) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

type noImporter struct{}

func (noImporter) ImportCategories(context.Context, io.Reader) (any, error) { return nil, nil }
func (noImporter) ImportProducts(context.Context, io.Reader) (any, error)   { return nil, nil }

// TestImportCSVRefusesBeforeImporting checks that an upload passing the
// import limit mid-way is refused before the importer reads a byte of it:
// the importer commits as it reads, so anything it read would stay.
func TestImportCSVRefusesBeforeImporting(t *testing.T) {
	const limit = 1000
	csv := "asin,title\n" + strings.Repeat("B000000001,Beads\n", 10) // 181 bytes
	big := "asin,title\n" + strings.Repeat("B000000001,Beads\n", 100)
	multi := func(content string) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("note", "before the file")
		fw, _ := mw.CreateFormFile("file", "products.csv")
		io.WriteString(fw, content)
		mw.Close()
		return b.String(), mw.FormDataContentType()
	}
	smallMulti, smallType := multi(csv)
	bigMulti, bigType := multi(big)

	tests := []struct {
		name        string
		body        io.Reader
		contentType string
		status      int
		code        string
		imported    string // what the importer must have read; "" when it must not run
	}{
		{"chunked CSV within the limit", chunked{strings.NewReader(csv)}, "text/csv", 200, "", csv},
		{"chunked multipart within the limit", chunked{strings.NewReader(smallMulti)}, smallType, 200, "", csv},
		{"chunked CSV over the limit", chunked{strings.NewReader(big)}, "text/csv", 413, "body_too_large", ""},
		{"chunked multipart over the limit", chunked{strings.NewReader(bigMulti)}, bigType, 413, "body_too_large", ""},
		{"upload cut short", &failing{[]byte(csv), io.ErrUnexpectedEOF}, "text/csv", 400, "incomplete_body", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			a := &api{Deps: Deps{
				Importer:       noImporter{},
				MaxImportBytes: limit,
				Log:            slog.New(slog.NewTextHandler(io.Discard, nil)),
			}}
			ran := false
			var got []byte
			run := func(_ context.Context, r io.Reader) (any, error) {
				ran = true
				var err error
				got, err = io.ReadAll(r)
				return map[string]int{"read": len(got)}, err
			}
			req := httptest.NewRequest("POST", "/admin/import/products", tt.body)
			req.ContentLength = -1
			req.Header.Set("Content-Type", tt.contentType)
			w := httptest.NewRecorder()
			a.importCSV(w, req, run)

			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.code != "" {
				var eb struct{ Error string }
				if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error != tt.code {
					t.Fatalf("body %s, want error code %q", w.Body, tt.code)
				}
			}
			if tt.imported == "" && ran {
				t.Fatalf("the importer ran and read %d bytes of a refused upload", len(got))
			}
			if tt.imported != "" && string(got) != tt.imported {
				t.Fatalf("the importer read %q, want %q", got, tt.imported)
			}
			left, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 0 {
				t.Fatalf("%d files left in the temporary directory, first %s", len(left), left[0].Name())
			}
		})
	}
}

func TestSpoolUploadErrors(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	_, err := spoolUpload(&failing{[]byte("abc"), errors.New("connection reset")})
	if !errors.Is(err, errUploadRead) {
		t.Fatalf("read failure: %v, want errUploadRead", err)
	}
	t.Setenv("TMPDIR", "/nonexistent/productapi-test")
	_, err = spoolUpload(strings.NewReader("abc"))
	if err == nil || errors.Is(err, errUploadRead) {
		t.Fatalf("unwritable directory: %v, want a server-side error", err)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		t.Fatalf("unwritable directory reported as too large: %v", err)
	}
}

func TestSpoolLeavesNoNameWhileOpen(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	f, err := spoolUpload(strings.NewReader("asin,title\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer removeSpool(slog.New(slog.DiscardHandler), f)
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("the spooled upload is reachable as %s while it is read: a crash would leave it behind", left[0].Name())
	}
	got, err := io.ReadAll(f)
	if err != nil || string(got) != "asin,title\n" {
		t.Fatalf("read back %q, %v", got, err)
	}
}
