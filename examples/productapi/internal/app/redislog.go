package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// redisLog is go-redis's logger writing through slog, so that the client's
// own lines ("redis: connection pool: failed to dial …") come out as the
// service's JSON lines instead of plain text between them.
type redisLog struct{ log *slog.Logger }

// Printf logs one go-redis line at warn level.
func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)))
}

var redisLogOnce sync.Once

// routeRedisLog sends go-redis's log lines to log. go-redis has one logger
// for the process, so the first App's logger is the one used.
func routeRedisLog(log *slog.Logger) {
	redisLogOnce.Do(func() { redis.SetLogger(redisLog{log.With("component", "go-redis")}) })
}
