package app

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestGoRedisLinesAreJSON(t *testing.T) {
	var out bytes.Buffer
	l := redisLog{slog.New(slog.NewJSONHandler(&out, nil)).With("component", "go-redis")}
	l.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v\n", 1, "refused")
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q (%v)", out.String(), err)
	}
	if line["level"] != "WARN" || line["component"] != "go-redis" ||
		line["msg"] != "redis: connection pool: failed to dial after 1 attempts: refused" {
		t.Fatalf("line = %v", line)
	}
}
