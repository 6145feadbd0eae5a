package importer_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	_ "modernc.org/sqlite"

	"github.com/cachefront/cachefront/examples/productapi/internal/importer"
)

// An import reports bad rows with their line and keeps the good ones, then
// invalidates the cache tags of the categories it touched, once.
func Example() {
	db, err := sql.Open("sqlite", "file:example?mode=memory&cache=shared")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one in-memory database
	if _, err := db.Exec(`
		CREATE TABLE categories (id BIGINT PRIMARY KEY, name TEXT NOT NULL,
			created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
		CREATE TABLE products (asin TEXT PRIMARY KEY, title TEXT NOT NULL,
			img_url TEXT NOT NULL DEFAULT '', product_url TEXT NOT NULL DEFAULT '',
			stars REAL NOT NULL DEFAULT 0, reviews INTEGER NOT NULL DEFAULT 0,
			price REAL NOT NULL DEFAULT 0, list_price REAL NOT NULL DEFAULT 0,
			category_id BIGINT NOT NULL REFERENCES categories(id),
			is_best_seller INTEGER NOT NULL DEFAULT 0, bought_in_last_month INTEGER NOT NULL DEFAULT 0,
			created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`); err != nil {
		panic(err)
	}

	im := importer.New(db, "sqlite")
	ctx := context.Background()
	opts := importer.Options{
		Invalidate: func(_ context.Context, tags ...string) error {
			fmt.Println("invalidate", tags)
			return nil
		},
	}
	cats := "id,category_name\n1,Beading & Jewelry Making\n2,\"Arts, Crafts & Sewing\"\n"
	if _, err := im.ImportCategories(ctx, strings.NewReader(cats), opts); err != nil {
		panic(err)
	}

	products := "\uFEFFasin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,isBestSeller,boughtInLastMonth\n" +
		"B014TMV5YE,\"Sion Softside Expandable Roller Luggage, Black, Checked-Large 29-Inch\",https://m.media-amazon.com/images/I/815dLQKYIYL._AC_UL320_.jpg,https://www.amazon.com/dp/B014TMV5YE,4.5,0,139.99,0.0,2,False,2000\n" +
		"B07GDLCQXV,Luggage with a bad rating,http://img,http://url,6.5,10,169.99,209.99,2,False,1000\n" +
		"B07XSCCZYG,Unknown category,http://img,http://url,4.6,0,365.49,429.99,99,False,300\n"
	sum, err := im.ImportProducts(ctx, strings.NewReader(products), opts)
	if err != nil {
		panic(err)
	}
	sum.Elapsed = 0 // varies from run to run
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(sum)
	// Output:
	// invalidate [category:1 category:2 categories]
	// invalidate [category:2 product:B014TMV5YE products]
	// {
	//   "inserted": 1,
	//   "updated": 0,
	//   "unchanged": 0,
	//   "failed": 2,
	//   "elapsed_ms": 0,
	//   "elapsed": "0s",
	//   "errors": [
	//     {
	//       "line": 3,
	//       "column": "stars",
	//       "reason": "must be between 0 and 5, got \"6.5\""
	//     },
	//     {
	//       "line": 4,
	//       "column": "category_id",
	//       "reason": "unknown category 99"
	//     }
	//   ],
	//   "errors_omitted": 0,
	//   "touched_categories": [
	//     2
	//   ]
	// }
}
