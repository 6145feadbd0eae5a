package httpapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cachefront/cachefront"
)

// maxCacheNameLen bounds the keys and tags the admin routes accept.
const maxCacheNameLen = 1024

func validCacheName(s string) bool {
	if s == "" || len(s) > maxCacheNameLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func (a *api) deleteCacheKey(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !validCacheName(key) {
		writeAPIError(w, r, fieldError("key", "must be 1 to 1024 bytes of printable UTF-8"))
		return
	}
	err := a.Store.Delete(r.Context(), key)
	if errors.Is(err, cachefront.ErrInvalidKey) {
		writeAPIError(w, r, fieldError("key", `must be of the form <cache>:<key>, as the stats route lists them (e.g. "product:B07XYZ1234")`))
		return
	}
	if err != nil {
		a.cacheUnavailable(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": key})
}

func (a *api) invalidateCacheTag(w http.ResponseWriter, r *http.Request) {
	tag := r.PathValue("tag")
	if !validCacheName(tag) {
		writeAPIError(w, r, fieldError("tag", "must be 1 to 1024 bytes of printable UTF-8"))
		return
	}
	err := a.Store.InvalidateTags(r.Context(), tag)
	if errors.Is(err, cachefront.ErrInvalidTag) {
		writeAPIError(w, r, fieldError("tag", err.Error()))
		return
	}
	if err != nil {
		a.cacheUnavailable(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"invalidated": tag})
}

func (a *api) cacheUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, cachefront.ErrUnavailable) {
		a.Log.WarnContext(r.Context(), "cache unavailable", "request_id", RequestIDFrom(r.Context()), "error", err)
		writeError(w, r, http.StatusServiceUnavailable, "cache_unavailable", "Redis is unavailable; retry")
		return
	}
	a.internal(w, r, err)
}

// statsResponse is the body of GET /admin/cache/stats.
type statsResponse struct {
	Hits          uint64                           `json:"hits"`
	Misses        uint64                           `json:"misses"`
	HitRatio      float64                          `json:"hit_ratio"`
	KeyCount      int64                            `json:"key_count"`
	TopKeys       []KeyCount                       `json:"top_keys"`
	Errors        uint64                           `json:"errors"`
	Loads         uint64                           `json:"loads"`
	Invalidations uint64                           `json:"invalidations"`
	CircuitOpen   bool                             `json:"circuit_open"`
	Caches        map[string]cachefront.CacheStats `json:"caches"`
}

func (a *api) cacheStats(w http.ResponseWriter, r *http.Request) {
	st := a.Store.Stats()
	resp := statsResponse{
		Hits: st.Hits, Misses: st.Misses, HitRatio: st.HitRatio(), KeyCount: -1,
		TopKeys: a.Top.Top(10), Errors: st.Errors, Loads: st.Loads, Invalidations: st.Invalidations,
		CircuitOpen: st.CircuitOpen, Caches: st.Caches,
	}
	if a.KeyCount != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		n, err := a.KeyCount(ctx)
		if err != nil {
			a.Log.WarnContext(ctx, "counting cache keys", "error", err)
		} else {
			resp.KeyCount = n
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

func (a *api) importCategories(w http.ResponseWriter, r *http.Request) {
	a.importCSV(w, r, func(ctx context.Context, body io.Reader) (any, error) {
		return a.Importer.ImportCategories(ctx, body)
	})
}

func (a *api) importProducts(w http.ResponseWriter, r *http.Request) {
	a.importCSV(w, r, func(ctx context.Context, body io.Reader) (any, error) {
		return a.Importer.ImportProducts(ctx, body)
	})
}

// importCSV imports a CSV upload (the raw body, or the multipart field
// "file") with run and answers with its summary. Imports may take minutes:
// the route lifts the server's read and write deadlines for itself.
//
// A refused upload imports nothing. One whose Content-Length passes the
// limit is refused before it is read. Any other is first copied to a
// temporary file (see spoolUpload), so that an upload without a length
// (chunked) that passes the limit mid-way is refused before run starts:
// the importer commits large imports in several transactions, and reading
// the request as it imports would leave the batches before the limit
// committed.
func (a *api) importCSV(w http.ResponseWriter, r *http.Request, run func(context.Context, io.Reader) (any, error)) {
	if a.Importer == nil {
		writeError(w, r, http.StatusServiceUnavailable, "import_unavailable", "imports are not available on this server")
		return
	}
	if r.ContentLength > a.MaxImportBytes {
		// Refused before a byte is read: nothing is imported.
		writeError(w, r, http.StatusRequestEntityTooLarge, "body_too_large", "the file is larger than the import limit")
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(time.Hour))
	_ = rc.SetWriteDeadline(time.Now().Add(time.Hour))
	r.Body = http.MaxBytesReader(w, r.Body, a.MaxImportBytes)
	body, e := csvBody(r)
	if e != nil {
		writeAPIError(w, r, e)
		return
	}
	file, err := spoolUpload(body)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, r, http.StatusRequestEntityTooLarge, "body_too_large", "the file is larger than the import limit")
		return
	case errors.Is(err, errUploadRead):
		a.Log.WarnContext(r.Context(), "reading an import upload", "request_id", RequestIDFrom(r.Context()), "error", err)
		writeError(w, r, http.StatusBadRequest, "incomplete_body", "the upload could not be read to its end")
		return
	case err != nil:
		a.internal(w, r, err)
		return
	}
	defer removeSpool(a.Log, file)

	summary, err := run(r.Context(), file)
	switch {
	case errors.Is(err, ErrBadCSV):
		writeAPIError(w, r, newError(http.StatusBadRequest, "invalid_csv", "%s", err.Error()))
	case err != nil:
		a.internal(w, r, err)
	default:
		writeJSON(w, http.StatusOK, summary)
	}
}

// ErrBadCSV marks import errors that are the file's fault (a wrong header,
// say): the route answers 400 with the error's text.
var ErrBadCSV = errors.New("invalid CSV")

// csvBody returns the CSV stream of an import request: the multipart field
// "file", or the body itself.
func csvBody(r *http.Request) (io.Reader, *apiError) {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if !strings.HasPrefix(mt, "multipart/") {
		if mt != "" && mt != "text/csv" && mt != "application/octet-stream" && mt != "text/plain" {
			return nil, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send text/csv or multipart/form-data with a field named file")
		}
		return r.Body, nil
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, newError(http.StatusBadRequest, "invalid_multipart", "malformed multipart body: %v", err)
	}
	for {
		part, err := mr.NextPart()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newError(http.StatusRequestEntityTooLarge, "body_too_large", "the file is larger than the import limit")
		}
		if err == io.EOF {
			return nil, newError(http.StatusBadRequest, "missing_file", "the multipart body has no field named file")
		}
		if err != nil {
			return nil, newError(http.StatusBadRequest, "invalid_multipart", "malformed multipart body: %v", err)
		}
		if part.FormName() == "file" {
			return part, nil
		}
		part.Close()
	}
}
