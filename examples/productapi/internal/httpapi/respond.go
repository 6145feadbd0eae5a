package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// errorBody is every error response: a stable code for programs, a message
// for people, the offending field when there is one, and the request ID to
// quote in a report.
type errorBody struct {
	Error     string `json:"error"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// apiError is an error with its HTTP status and code.
type apiError struct {
	status  int
	code    string
	message string
	field   string
}

func (e *apiError) Error() string { return e.message }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// writeJSON writes v as the JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError writes the JSON error response of status, code and message.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	writeAPIError(w, r, &apiError{status: status, code: code, message: message})
}

func writeAPIError(w http.ResponseWriter, r *http.Request, e *apiError) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, e.status, errorBody{Error: e.code, Message: e.message, Field: e.field, RequestID: RequestIDFrom(r.Context())})
}

// decodeJSON reads exactly one JSON object of at most maxBytes from the
// request body into dst, a pointer to a struct, refusing unknown fields.
// encoding/json matches keys to fields ignoring case and lets the last of
// two equal keys win, so {"email":"a@x","EMAIL":"b@x"} would read as b@x:
// the object's keys must also be the fields' names exactly, each once. Its
// errors are *apiError: 413 for an oversized body, 415 for a body that says
// it is not JSON, 400 for everything else.
func decodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err, maxBytes)
		}
		return newError(http.StatusBadRequest, "incomplete_body", "the body could not be read to its end")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err, maxBytes)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return newError(http.StatusBadRequest, "invalid_json", "the body must hold a single JSON object")
	}
	return checkKeys(body, dst)
}

// checkKeys refuses, in the JSON object body (already decoded into dst), a
// key given twice, and a key that is not exactly the JSON name of a field of
// dst (encoding/json took it for one whose name differs in case).
func checkKeys(body []byte, dst any) *apiError {
	names := map[string]bool{}
	t := reflect.TypeOf(dst).Elem()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			names[name] = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // '{': Decode read an object
		return newError(http.StatusBadRequest, "invalid_json", "malformed JSON")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return newError(http.StatusBadRequest, "invalid_json", "malformed JSON")
		}
		switch {
		case seen[key]:
			e := newError(http.StatusBadRequest, "duplicate_field", "field %q is given more than once", key)
			e.field = key
			return e
		case !names[key]:
			e := newError(http.StatusBadRequest, "unknown_field", "unknown field %q (field names are lower-case and match exactly)", key)
			e.field = key
			return e
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return newError(http.StatusBadRequest, "invalid_json", "malformed JSON")
		}
	}
	return nil
}

func jsonError(err error, maxBytes int64) *apiError {
	var (
		mbe    *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return newError(http.StatusRequestEntityTooLarge, "body_too_large", "the body must be at most %d bytes", maxBytes)
	case errors.As(err, &syntax):
		return newError(http.StatusBadRequest, "invalid_json", "malformed JSON at byte %d", syntax.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newError(http.StatusBadRequest, "invalid_json", "malformed JSON: unexpected end of body")
	case errors.Is(err, io.EOF):
		return newError(http.StatusBadRequest, "invalid_json", "the body is empty; a JSON object is required")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return newError(http.StatusBadRequest, "invalid_json", "the body must be a JSON object")
		}
		e := newError(http.StatusBadRequest, "wrong_type", "field %q must be of type %s", typ.Field, jsonKind(typ.Type.Kind().String()))
		e.field = typ.Field
		return e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e := newError(http.StatusBadRequest, "unknown_field", "unknown field %q", name)
		e.field = name
		return e
	default:
		return newError(http.StatusBadRequest, "invalid_json", "malformed JSON")
	}
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"), strings.HasPrefix(goKind, "float"):
		return "number"
	case goKind == "bool":
		return "boolean"
	case goKind == "string":
		return "string"
	default:
		return goKind
	}
}
