package httpapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cachefront/cachefront"
)

// Bounds of the keys and tags the admin routes accept. A key is as the
// stats route lists it, and a product list's can pass a kilobyte (its
// search text, escaped twice), so keys have room to spare.
const (
	maxKeyLen = 4096
	maxTagLen = 1024
)

// validCacheName reports whether s is 1 to limit bytes of printable UTF-8.
func validCacheName(s string, limit int) bool {
	if s == "" || len(s) > limit || !utf8.ValidString(s) {
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
	if !validCacheName(key, maxKeyLen) {
		writeAPIError(w, r, fieldError("key", fmt.Sprintf("must be 1 to %d bytes of printable UTF-8", maxKeyLen)))
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
	if !validCacheName(tag, maxTagLen) {
		writeAPIError(w, r, fieldError("tag", fmt.Sprintf("must be 1 to %d bytes of printable UTF-8", maxTagLen)))
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
	Hits     uint64  `json:"hits"`
	Misses   uint64  `json:"misses"`
	HitRatio float64 `json:"hit_ratio"`
	// KeyCount is the entries counted; KeyCountComplete is false when the
	// count was cut short (Redis failed, or took too long), and KeyCount is
	// then a lower bound.
	KeyCount         int64                            `json:"key_count"`
	KeyCountComplete bool                             `json:"key_count_complete"`
	TopKeys          []cachefront.KeyCount            `json:"top_keys"`
	Errors           uint64                           `json:"errors"`
	Loads            uint64                           `json:"loads"`
	Invalidations    uint64                           `json:"invalidations"`
	CircuitOpen      bool                             `json:"circuit_open"`
	Caches           map[string]cachefront.CacheStats `json:"caches"`
}

// countBound bounds the entry count of the stats route, which scans the
// whole keyspace.
const countBound = 2 * time.Second

func (a *api) cacheStats(w http.ResponseWriter, r *http.Request) {
	st := a.Store.Stats()
	resp := statsResponse{
		Hits: st.Hits, Misses: st.Misses, HitRatio: st.HitRatio(),
		TopKeys: mergeTopKeys(st.Caches, a.TopKeys), Errors: st.Errors, Loads: st.Loads,
		Invalidations: st.Invalidations, CircuitOpen: st.CircuitOpen, Caches: st.Caches,
	}
	ctx, cancel := context.WithTimeout(r.Context(), countBound)
	defer cancel()
	n, err := a.Store.CountEntries(ctx)
	if err != nil {
		a.Log.WarnContext(ctx, "counting cache entries", "request_id", RequestIDFrom(ctx), "counted", n.Entries, "error", err)
	}
	resp.KeyCount, resp.KeyCountComplete = n.Entries, n.Complete
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

// mergeTopKeys returns the keys read most across caches, most read first
// (ties by key), at most n of them (every one when n is 0). When each cache
// reports its n most read (cachefront.WithTopKeys(n)), the result holds the
// n most read overall.
func mergeTopKeys(caches map[string]cachefront.CacheStats, n int) []cachefront.KeyCount {
	top := []cachefront.KeyCount{}
	for _, c := range caches {
		top = append(top, c.TopKeys...)
	}
	slices.SortFunc(top, func(a, b cachefront.KeyCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Key, b.Key))
	})
	if n > 0 && len(top) > n {
		top = top[:n]
	}
	return top
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
