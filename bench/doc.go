// Package bench measures cachefront against raw go-redis and two peer
// libraries, github.com/go-redis/cache/v9 and github.com/eko/gocache/lib/v4,
// on one Redis server and one product-like value of about 1 KiB.
//
// It is a module of its own so that the peers never become dependencies of
// cachefront. The benchmarks live in bench_test.go; README.md has the
// results and run.sh reproduces them. Every benchmark and test skips when no
// Redis answers at CACHEFRONT_REDIS_ADDR (default 127.0.0.1:6379).
//
// The package's exported names are the adapters the benchmarks drive: one
// Peer per library, each storing the same Product under its own key prefix.
package bench
