// Command benchcmd generates the benchmark files and imports them, for
// bench.sh. It prints the import summary and the process's peak resident
// memory.
//
//	benchcmd -gen -rows 1400000 -out DIR
//	benchcmd -db sqlite:PATH|postgres://… -dir DIR
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/cachefront/cachefront/examples/productapi/internal/gen"
	"github.com/cachefront/cachefront/examples/productapi/internal/importer"
)

func main() {
	var (
		doGen = flag.Bool("gen", false, "generate the files instead of importing them")
		rows  = flag.Int("rows", 1400000, "rows to generate")
		seed  = flag.Int64("seed", 1, "generator seed")
		dir   = flag.String("dir", ".", "directory of amazon_products.csv and amazon_categories.csv")
		dbURL = flag.String("db", "", "sqlite:PATH or postgres://…")
		batch = flag.Int("batch", 0, "rows per transaction (0: the importer's default)")
		prof  = flag.String("cpuprofile", "", "write a CPU profile to this file")
		mprof = flag.String("memprofile", "", "write a heap profile to this file at the end")
	)
	flag.Parse()
	log.SetFlags(0)
	if *doGen {
		start := time.Now()
		if err := gen.Write(*dir, *rows, *seed); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("generated %d rows in %s\n", *rows, time.Since(start).Round(time.Millisecond))
		return
	}

	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	driver, dsn, dialect := "pgx", *dbURL, "postgres"
	if p, ok := strings.CutPrefix(*dbURL, "sqlite:"); ok {
		driver, dialect = "sqlite", "sqlite"
		dsn = "file:" + p + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	im := importer.New(db, dialect)
	ctx := context.Background()
	for _, step := range []struct {
		file string
		run  func(context.Context, *os.File, importer.Options) (importer.Summary, error)
	}{
		{gen.CategoriesFile, func(ctx context.Context, f *os.File, o importer.Options) (importer.Summary, error) {
			return im.ImportCategories(ctx, f, o)
		}},
		{gen.ProductsFile, func(ctx context.Context, f *os.File, o importer.Options) (importer.Summary, error) {
			return im.ImportProducts(ctx, f, o)
		}},
	} {
		f, err := os.Open(filepath.Join(*dir, step.file))
		if err != nil {
			log.Fatal(err)
		}
		st, _ := f.Stat()
		s, err := step.run(ctx, f, importer.Options{BatchSize: *batch, Progress: importer.TerminalProgress(os.Stderr, st.Size())})
		f.Close()
		fmt.Printf("%s: %s\n", step.file, s)
		if err != nil {
			log.Print(err)
			return
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	if *mprof != "" {
		f, err := os.Create(*mprof)
		if err != nil {
			log.Fatal(err)
		}
		runtime.GC()
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("peak RSS: %.1f MB (Go heap: %.1f MB in use, %.1f MB obtained from the OS)\n",
		float64(ru.Maxrss)/1024, float64(ms.HeapInuse)/(1<<20), float64(ms.HeapSys)/(1<<20))
}
