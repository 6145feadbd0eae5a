package cachefront_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachefront/cachefront"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

type Product struct {
	ASIN       string
	Title      string
	CategoryID int
}

// exampleRedis starts an in-process Redis so that the examples run anywhere.
func exampleRedis() (redis.UniversalClient, func()) {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{mr.Addr()}})
	return rdb, func() { _ = rdb.Close(); mr.Close() }
}

func Example() {
	rdb, stop := exampleRedis()
	defer stop()
	ctx := context.Background()

	store := cachefront.NewStore(rdb, cachefront.WithNamespace("shop"),
		cachefront.WithRegisterer(prometheus.NewRegistry()))
	defer store.Close()
	products := cachefront.New[Product](store, "products", cachefront.WithTTL(10*time.Minute))

	loads := 0
	byASIN := func(asin string) func(context.Context) (Product, error) {
		return func(ctx context.Context) (Product, error) {
			loads++ // a database query in real code
			return Product{ASIN: asin, Title: "Kettle", CategoryID: 42}, nil
		}
	}
	for i := 0; i < 3; i++ {
		p, err := products.GetOrLoad(ctx, "B000000001", byASIN("B000000001"),
			cachefront.WithTags("category:"+strconv.Itoa(42)))
		if err != nil {
			panic(err)
		}
		fmt.Println(p.Title)
	}
	_ = store.InvalidateTags(ctx, "category:42") // after a write to category 42
	_, _ = products.GetOrLoad(ctx, "B000000001", byASIN("B000000001"), cachefront.WithTags("category:42"))

	st := store.Stats()
	fmt.Printf("loads=%d hits=%d misses=%d\n", loads, st.Hits, st.Misses)
	// Output:
	// Kettle
	// Kettle
	// Kettle
	// loads=2 hits=2 misses=2
}

func ExampleCache_Get() {
	rdb, stop := exampleRedis()
	defer stop()
	ctx := context.Background()
	sessions := cachefront.New[string](cachefront.NewStore(rdb), "sessions", cachefront.WithTTL(time.Hour))

	if _, err := sessions.Get(ctx, "abc"); errors.Is(err, cachefront.ErrNotFound) {
		fmt.Println("miss")
	}
	_ = sessions.Set(ctx, "abc", "user-7")
	user, _ := sessions.Get(ctx, "abc")
	fmt.Println(user)
	// Output:
	// miss
	// user-7
}

func ExampleCache_GetManyOrLoad() {
	rdb, stop := exampleRedis()
	defer stop()
	ctx := context.Background()
	titles := cachefront.New[string](cachefront.NewStore(rdb), "titles")
	_ = titles.Set(ctx, "a", "cached A")

	got, _ := titles.GetManyOrLoad(ctx, []string{"a", "b", "c"}, func(ctx context.Context, missing []string) (map[string]string, error) {
		fmt.Println("loading", missing) // one query for all missing keys
		return map[string]string{"b": "loaded B", "c": "loaded C"}, nil
	})
	fmt.Println(got["a"], "|", got["b"], "|", got["c"])
	// Output:
	// loading [b c]
	// cached A | loaded B | loaded C
}

func ExampleAddTags() {
	rdb, stop := exampleRedis()
	defer stop()
	ctx := context.Background()
	store := cachefront.NewStore(rdb)
	products := cachefront.New[Product](store, "products")

	load := func(ctx context.Context) (Product, error) {
		p := Product{ASIN: "B000000002", Title: "Teapot", CategoryID: 7}
		// The category is only known once the product is read.
		cachefront.AddTags(ctx, "category:"+strconv.Itoa(p.CategoryID))
		return p, nil
	}
	_, _ = products.GetOrLoad(ctx, "B000000002", load)
	_ = store.InvalidateTags(ctx, "category:7")
	_, err := products.Get(ctx, "B000000002")
	fmt.Println(errors.Is(err, cachefront.ErrNotFound))
	// Output:
	// true
}

// exampleStore returns a Store on an in-process Redis, so that the examples
// run anywhere.
func exampleStore() (*cachefront.Store, func()) {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	store := cachefront.NewStore(rdb, cachefront.WithNamespace("shop"))
	return store, func() { _ = store.Close(); _ = rdb.Close(); mr.Close() }
}

// show sends one request to h and prints what came back.
func show(h http.Handler, method, target string, header ...string) {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	line := fmt.Sprintf("%-6s %-24s %d %-6s %s", method, target, w.Code, w.Header().Get("X-Cache"), strings.TrimSpace(w.Body.String()))
	fmt.Println(strings.TrimRight(line, " "))
}

// Caching a net/http route, tagging its responses, and invalidating them
// from the write route.
func ExampleMiddleware() {
	store, stop := exampleStore()
	defer stop()

	title := "Kettle"
	product := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A tag known only once the product is read: its category.
		cachefront.AddTags(r.Context(), "category:42")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"asin":%q,"title":%q}`, r.PathValue("asin"), title)
	})
	update := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		title = "Steel kettle" // the database write
		w.WriteHeader(http.StatusNoContent)
	})
	productTag := func(r *http.Request) []string { return []string{"product:" + r.PathValue("asin")} }

	mux := http.NewServeMux()
	mux.Handle("GET /products/{asin}", cachefront.Middleware(store,
		cachefront.WithName("product"),
		cachefront.WithTTL(5*time.Minute),
		cachefront.WithTagsFunc(productTag),
	)(product))
	mux.Handle("PUT /products/{asin}", cachefront.InvalidateOnSuccess(store, productTag)(update))

	show(mux, "GET", "/products/B01")
	show(mux, "GET", "/products/B01")
	show(mux, "HEAD", "/products/B01")
	show(mux, "GET", "/products/B01?nocache=true")
	show(mux, "GET", "/products/B01", "Authorization", "Bearer eyJhbGciOi...")
	show(mux, "PUT", "/products/B01")
	show(mux, "GET", "/products/B01")
	_ = store.InvalidateTags(context.Background(), "category:42") // a write elsewhere to category 42
	show(mux, "GET", "/products/B01")

	st := store.Stats().Caches["product"]
	fmt.Printf("hits %d, misses %d, handler calls %d\n", st.Hits, st.Misses, st.Loads)
	// Output:
	// GET    /products/B01            200 MISS   {"asin":"B01","title":"Kettle"}
	// GET    /products/B01            200 HIT    {"asin":"B01","title":"Kettle"}
	// HEAD   /products/B01            200 HIT
	// GET    /products/B01?nocache=true 200 BYPASS {"asin":"B01","title":"Kettle"}
	// GET    /products/B01            200 BYPASS {"asin":"B01","title":"Kettle"}
	// PUT    /products/B01            204
	// GET    /products/B01            200 MISS   {"asin":"B01","title":"Steel kettle"}
	// GET    /products/B01            200 MISS   {"asin":"B01","title":"Steel kettle"}
	// hits 2, misses 3, handler calls 3
}

// With chi, the middleware goes on a group of routes with Use, and the
// invalidation on the write route with With. Conditional requests get 304.
func ExampleMiddleware_chi() {
	store, stop := exampleStore()
	defer stop()

	categories := []string{"Kitchen", "Garden"}
	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(cachefront.Middleware(store,
			cachefront.WithName("categories"),
			cachefront.WithTTL(time.Hour),
			cachefront.WithTags("categories"),
		))
		r.Get("/categories", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, strings.Join(categories, ","))
		})
	})
	r.With(cachefront.InvalidateOnSuccess(store, func(*http.Request) []string { return []string{"categories"} })).
		Post("/categories", func(w http.ResponseWriter, r *http.Request) {
			categories = append(categories, "Toys")
			w.WriteHeader(http.StatusCreated)
		})

	show(r, "GET", "/categories")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/categories", nil))
	etag := w.Header().Get("ETag")
	show(r, "GET", "/categories", "If-None-Match", etag)
	show(r, "POST", "/categories")
	show(r, "GET", "/categories", "If-None-Match", etag)
	show(r, "GET", "/categories")
	// Output:
	// GET    /categories              200 MISS   Kitchen,Garden
	// GET    /categories              304 HIT
	// POST   /categories              201
	// GET    /categories              200 MISS   Kitchen,Garden,Toys
	// GET    /categories              200 HIT    Kitchen,Garden,Toys
}

// Deleting the cached response of one URL, as an admin tool would: the same
// options give the same key.
func ExampleMiddlewareKey() {
	store, stop := exampleStore()
	defer stop()

	calls := 0
	opts := []cachefront.Option{cachefront.WithName("search"), cachefront.WithTTL(time.Minute)}
	h := cachefront.Middleware(store, opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		fmt.Fprintf(w, "results #%d", calls)
	}))
	show(h, "GET", "/search?q=kettle&page=2")

	key, err := cachefront.MiddlewareKey(store, httptest.NewRequest("GET", "/search?page=2&q=kettle", nil), opts...)
	if err != nil {
		panic(err)
	}
	fmt.Println(key)
	if err := store.Delete(context.Background(), key); err != nil {
		panic(err)
	}
	show(h, "GET", "/search?q=kettle&page=2")
	show(h, "GET", "/search?q=kettle&page=2")
	show(h, "GET", "/search?q=%zz")
	// Output:
	// GET    /search?q=kettle&page=2  200 MISS   results #1
	// search:GET /search?page=2&q=kettle
	// GET    /search?q=kettle&page=2  200 MISS   results #2
	// GET    /search?q=kettle&page=2  200 HIT    results #2
	// GET    /search?q=%zz            400        malformed query string
}

// JSON entries, for services in other languages that read the same Redis.
func ExampleWithCodec() {
	rdb, stop := exampleRedis()
	defer stop()
	ctx := context.Background()
	store := cachefront.NewStore(rdb, cachefront.WithNamespace("shop"))
	products := cachefront.New[Product](store, "products", cachefront.WithCodec(cachefront.JSONCodec))

	_ = products.Set(ctx, "B000000001", Product{ASIN: "B000000001", Title: "Kettle", CategoryID: 42})
	p, _ := products.Get(ctx, "B000000001")
	fmt.Println(p.Title)

	// A cache with another codec does not read the entry: a miss, never a
	// wrong value.
	other := cachefront.New[Product](store, "products")
	_, err := other.Get(ctx, "B000000001")
	fmt.Println(errors.Is(err, cachefront.ErrNotFound))
	// Output:
	// Kettle
	// true
}

// wireMessage is what protobuf-generated types look like to a codec: they
// marshal themselves. With google.golang.org/protobuf the codec calls
// proto.Marshal(v.(proto.Message)) and proto.Unmarshal(data,
// v.(proto.Message)) in the same places, on a Cache[*pb.Product].
type wireMessage interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// messageCodec stores values that marshal themselves.
type messageCodec struct{}

func (messageCodec) Name() string { return "wire-v1" }

func (messageCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(wireMessage)
	if !ok {
		return nil, fmt.Errorf("%T does not marshal itself", v)
	}
	return m.MarshalBinary()
}

func (messageCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(wireMessage) // a new *T for a Cache[*T]
	if !ok {
		return fmt.Errorf("%T does not unmarshal itself", v)
	}
	return m.UnmarshalBinary(data)
}

// Price is a message with a binary form of its own: "<cents>|<currency>".
type Price struct {
	Cents    int
	Currency string
}

func (p *Price) MarshalBinary() ([]byte, error) {
	return []byte(strconv.Itoa(p.Cents) + "|" + p.Currency), nil
}

func (p *Price) UnmarshalBinary(b []byte) error {
	cents, currency, ok := strings.Cut(string(b), "|")
	if !ok {
		return errors.New("not a price")
	}
	n, err := strconv.Atoi(cents)
	p.Cents, p.Currency = n, currency
	return err
}

// A codec of your own: here for types that marshal themselves, as
// protobuf messages do.
func ExampleCodec() {
	rdb, stop := exampleRedis()
	defer stop()
	ctx := context.Background()
	prices := cachefront.New[*Price](cachefront.NewStore(rdb), "prices", cachefront.WithCodec(messageCodec{}))

	_ = prices.Set(ctx, "B000000001", &Price{Cents: 3299, Currency: "EUR"})
	p, err := prices.Get(ctx, "B000000001")
	fmt.Println(p.Cents, p.Currency, err)
	// Output:
	// 3299 EUR <nil>
}

// Large values compressed: a page of products takes a fraction of its
// encoded size in Redis, and Stats shows what it saves.
func ExampleWithCompression() {
	rdb, stop := exampleRedis()
	defer stop()
	ctx := context.Background()
	store := cachefront.NewStore(rdb, cachefront.WithCompression(1024))
	pages := cachefront.New[[]Product](store, "pages")

	page := make([]Product, 100)
	for i := range page {
		page[i] = Product{ASIN: fmt.Sprintf("B%09d", i), Title: "Stainless steel kettle, 1.7 litres", CategoryID: 42}
	}
	_ = pages.Set(ctx, "category:42:page:1", page)
	got, _ := pages.Get(ctx, "category:42:page:1")

	st := store.Stats()
	fmt.Println(len(got), st.BytesWritten*4 < st.BytesWrittenUncompressed)
	// Output:
	// 100 true
}

// logObserver prints each operation as it ends.
type logObserver struct{}

func (logObserver) Start(ctx context.Context, op cachefront.Operation) context.Context { return ctx }

func (logObserver) End(ctx context.Context, op cachefront.Operation, out cachefront.Outcome) {
	fmt.Println(strings.TrimSpace(fmt.Sprint(op.Kind, " ", op.Cache, " ", out.Result, " ", out.Layer)))
}

func ExampleWithObserver() {
	rdb, stop := exampleRedis()
	defer stop()
	ctx := context.Background()
	store := cachefront.NewStore(rdb, cachefront.WithObserver(logObserver{}))
	defer store.Close()
	prices := cachefront.New[int](store, "prices")

	load := func(context.Context) (int, error) { return 1299, nil }
	_, _ = prices.GetOrLoad(ctx, "B0001", load) // the loader's operation ends first
	_, _ = prices.GetOrLoad(ctx, "B0001", load)
	// Output:
	// load prices
	// get_or_load prices miss loader
	// get_or_load prices hit redis
}

// tableJournal stands for a table in the application's database.
type tableJournal struct {
	mu   sync.Mutex
	rows map[string]bool
}

func (j *tableJournal) Add(_ context.Context, inv cachefront.Invalidations) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, t := range inv.Tags {
		j.rows["tag "+t] = true
	}
	for _, k := range inv.Keys {
		j.rows["key "+k] = true
	}
	return nil
}

func (j *tableJournal) Remove(_ context.Context, inv cachefront.Invalidations) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, t := range inv.Tags {
		delete(j.rows, "tag "+t)
	}
	for _, k := range inv.Keys {
		delete(j.rows, "key "+k)
	}
	return nil
}

func (j *tableJournal) List(context.Context) (cachefront.Invalidations, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var inv cachefront.Invalidations
	for row := range j.rows {
		kind, item, _ := strings.Cut(row, " ")
		if kind == "tag" {
			inv.Tags = append(inv.Tags, item)
		} else {
			inv.Keys = append(inv.Keys, item)
		}
	}
	return inv, nil
}

func ExampleWithJournal() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	ctx := context.Background()
	journal := &tableJournal{rows: map[string]bool{}}

	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	store := cachefront.NewStore(rdb, cachefront.WithJournal(journal))
	_ = cachefront.New[int](store, "prices").Set(ctx, "B0001", 1299, cachefront.WithTags("product:B0001"))
	mr.Close() // Redis goes away; the price changes in the database
	err := store.InvalidateTags(ctx, "product:B0001")
	fmt.Println(errors.Is(err, cachefront.ErrUnavailable), len(journal.rows))
	store.Close() // and the process exits before Redis is back
	_ = rdb.Close()

	_ = mr.Restart()
	rdb = redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	next := cachefront.NewStore(rdb, cachefront.WithJournal(journal)) // the next start
	defer next.Close()
	_, err = cachefront.New[int](next, "prices").Get(ctx, "B0001")
	fmt.Println(errors.Is(err, cachefront.ErrNotFound))
	// Output:
	// true 1
	// true
}

func ExampleRedisBudget() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}) // nothing listens there
	defer rdb.Close()
	store := cachefront.NewStore(rdb)
	defer store.Close()
	prices := cachefront.New[int](store, "prices")

	// A job's Redis work under one budget: after the first failure, the
	// other reads do not ask Redis again.
	ctx := cachefront.RedisBudget(context.Background())
	for _, asin := range []string{"B0001", "B0002", "B0003"} {
		price, err := prices.GetOrLoad(ctx, asin, func(context.Context) (int, error) { return 1299, nil })
		fmt.Println(asin, price, err)
	}
	// Output:
	// B0001 1299 <nil>
	// B0002 1299 <nil>
	// B0003 1299 <nil>
}
