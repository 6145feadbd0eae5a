package httpapi

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
)

// errUploadRead marks a spoolUpload failure to read the upload itself (the
// client went away, or sent a malformed chunked body), as opposed to a
// failure of the server's disk.
var errUploadRead = errors.New("reading the upload")

// spoolUpload copies body, whole, into a new temporary file in
// os.TempDir ($TMPDIR, /tmp by default) and returns the file positioned at
// its start, for the caller to import and then give to removeSpool.
//
// The file's name is removed from the directory as soon as it is created,
// where the system allows it (Linux, macOS): the open file lives on until
// closed, and a process that dies mid-import leaves nothing behind. Where
// it does not (Windows), removeSpool deletes it.
//
// body must be bounded (by http.MaxBytesReader): the file then takes at most
// the import limit of disk per upload in flight, and memory use is one copy
// buffer whatever the size. On error nothing is left behind; an error
// reading body wraps errUploadRead, and a *http.MaxBytesError stays
// reachable with errors.As.
func spoolUpload(body io.Reader) (*os.File, error) {
	f, err := os.CreateTemp("", "productapi-import-*.csv")
	if err != nil {
		return nil, fmt.Errorf("spooling an import upload: %w", err)
	}
	_ = os.Remove(f.Name()) // see above; removeSpool tries again
	_, err = io.Copy(f, uploadReader{body})
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		if errors.Is(err, errUploadRead) {
			return nil, err
		}
		return nil, fmt.Errorf("spooling an import upload: %w", err)
	}
	return f, nil
}

// removeSpool closes and deletes a file from spoolUpload.
func removeSpool(log *slog.Logger, f *os.File) {
	f.Close()
	if err := os.Remove(f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("removing a spooled import upload", "file", f.Name(), "error", err)
	}
}

// uploadReader tells the upload's read errors from the file's write errors
// in io.Copy.
type uploadReader struct{ r io.Reader }

// Read reads the upload, marking its errors with errUploadRead.
func (u uploadReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", errUploadRead, err)
	}
	return n, err
}
