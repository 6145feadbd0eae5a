package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	tests := []struct {
		in, contentType string
		status          int
		code            string
	}{
		{`{"name":"a","count":1}`, "application/json", 0, ""},
		{`{"name":"a"}`, "application/json; charset=utf-8", 0, ""},
		{`{"name":"a"}`, "", 0, ""},
		{`{"name":"a"}`, "application/merge-patch+json", 0, ""},
		{`{"name":`, "", 400, "invalid_json"},
		{`{"name":"a"}}`, "", 400, "invalid_json"},
		{`{"name":"a"} {"name":"b"}`, "", 400, "invalid_json"},
		{``, "", 400, "invalid_json"},
		{`null`, "", 0, ""},
		{`"text"`, "", 400, "invalid_json"},
		{`{"count":"1"}`, "", 400, "wrong_type"},
		{`{"count":1.5}`, "", 400, "wrong_type"},
		{`{"count":99999999999999999999}`, "", 400, "wrong_type"},
		{`{"other":1}`, "", 400, "unknown_field"},
		// encoding/json would take these, the last duplicate winning.
		{`{"name":"a","name":"b"}`, "", 400, "duplicate_field"},
		{`{"name":"a","NAME":"b"}`, "", 400, "unknown_field"},
		{`{"Name":"a"}`, "", 400, "unknown_field"},
		{`{"name":"a","count":1,"count":2}`, "", 400, "duplicate_field"},
		{`{"name":{"x":1,"x":2}}`, "", 400, "wrong_type"},
		{`{"name":"` + strings.Repeat("x", 100) + `"}`, "", 413, "body_too_large"},
		{`{"name":"a"}`, "text/plain", 415, "unsupported_media_type"},
		{`{"name":"a"}`, "application/json; charset", 415, "unsupported_media_type"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tt.in))
		if tt.contentType != "" {
			r.Header.Set("Content-Type", tt.contentType)
		}
		var b body
		e := decodeJSON(httptest.NewRecorder(), r, 64, &b)
		switch {
		case tt.status == 0 && e != nil:
			t.Errorf("decodeJSON(%q) = %v, want success", tt.in, e)
		case tt.status != 0 && (e == nil || e.status != tt.status || e.code != tt.code):
			t.Errorf("decodeJSON(%q) = %+v, want %d %s", tt.in, e, tt.status, tt.code)
		}
	}
}

func TestWriteErrorCarriesRequestID(t *testing.T) {
	var got *httptest.ResponseRecorder
	h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusTeapot, "teapot", "short and stout")
	}))
	got = httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set(RequestIDHeader, "abc-123")
	h.ServeHTTP(got, req)
	if got.Code != http.StatusTeapot || !strings.Contains(got.Body.String(), `"request_id":"abc-123"`) ||
		got.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %q %v", got.Code, got.Body.String(), got.Header())
	}
}
