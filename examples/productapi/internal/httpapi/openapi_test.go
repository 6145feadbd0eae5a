package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/cachefront/cachefront"
)

// openAPIDoc is the part of the OpenAPI document the tests read.
type openAPIDoc struct {
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

type openAPIOperation struct {
	RequestBody *struct {
		Content map[string]json.RawMessage `json:"content"`
	} `json:"requestBody"`
	Responses map[string]json.RawMessage `json:"responses"`
}

// operations returns every operation of the document by "METHOD path".
func operations(t *testing.T) map[string]openAPIOperation {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	ops := map[string]openAPIOperation{}
	for path, methods := range doc.Paths {
		for method, raw := range methods {
			if method == "parameters" {
				continue
			}
			var op openAPIOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			ops[method+" "+path] = op
		}
	}
	return ops
}

// TestOpenAPIBodyErrors: every operation that takes a JSON body documents
// what decodeJSON answers: 400, 413 and 415.
func TestOpenAPIBodyErrors(t *testing.T) {
	for name, op := range operations(t) {
		if op.RequestBody == nil || op.RequestBody.Content["application/json"] == nil {
			continue
		}
		for _, status := range []string{"400", "413", "415"} {
			if _, ok := op.Responses[status]; !ok {
				t.Errorf("%s takes a JSON body but does not document %s", name, status)
			}
		}
	}
}

// TestOpenAPIQueryErrors: every route checks its query string, so every
// operation documents the 400 of a malformed one.
func TestOpenAPIQueryErrors(t *testing.T) {
	for name, op := range operations(t) {
		if _, ok := op.Responses["400"]; !ok {
			t.Errorf("%s does not document 400 (invalid_query)", name)
		}
	}
}

// TestOpenAPIResponseFields: the schemas of the JSON bodies built from Go
// types name every field those types write.
func TestOpenAPIResponseFields(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		schema string
		value  any
	}{
		{"CacheStats", statsResponse{TopKeys: []cachefront.KeyCount{}}},
		{"KeyCount", cachefront.KeyCount{}},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			b, err := json.Marshal(tt.value)
			if err != nil {
				t.Fatal(err)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(b, &fields); err != nil {
				t.Fatal(err)
			}
			props := doc.Components.Schemas[tt.schema].Properties
			for f := range fields {
				if _, ok := props[f]; !ok {
					t.Errorf("schema %s lacks %q", tt.schema, f)
				}
			}
		})
	}
}
