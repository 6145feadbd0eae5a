package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Product is a catalogue item shaped like a row of the Amazon products data
// set that examples/productapi serves, with a description and a few bullet
// points so that it encodes to about 1 KiB of msgpack.
type Product struct {
	ASIN              string   `msgpack:"asin"`
	Title             string   `msgpack:"title"`
	ImgURL            string   `msgpack:"img_url"`
	ProductURL        string   `msgpack:"product_url"`
	Stars             float64  `msgpack:"stars"`
	Reviews           int      `msgpack:"reviews"`
	Price             float64  `msgpack:"price"`
	ListPrice         float64  `msgpack:"list_price"`
	CategoryID        int      `msgpack:"category_id"`
	CategoryName      string   `msgpack:"category_name"`
	IsBestSeller      bool     `msgpack:"is_best_seller"`
	BoughtInLastMonth int      `msgpack:"bought_in_last_month"`
	Description       string   `msgpack:"description"`
	Features          []string `msgpack:"features"`
}

// SampleProduct returns the product every benchmark stores.
func SampleProduct() Product {
	return Product{
		ASIN:              "B0BTXNYW2Q",
		Title:             "Sony WH-1000XM5 Wireless Industry Leading Noise Canceling Headphones with Auto Noise Canceling Optimizer, Crystal Clear Hands-Free Calling, and Alexa Voice Control, Black",
		ImgURL:            "https://m.media-amazon.com/images/I/51aXvjzcukL._AC_UL320_.jpg",
		ProductURL:        "https://www.amazon.com/dp/B0BTXNYW2Q",
		Stars:             4.4,
		Reviews:           18_403,
		Price:             328.00,
		ListPrice:         399.99,
		CategoryID:        172541,
		CategoryName:      "Headphones & Earbuds",
		IsBestSeller:      true,
		BoughtInLastMonth: 2000,
		Description: strings.Join([]string{
			"Industry-leading noise cancellation optimized to you: two processors control eight microphones for unprecedented noise cancellation.",
			"Auto NC Optimizer adjusts to your wearing conditions and environment.",
			"Magnificent sound, engineered to perfection with the new Integrated Processor V1.",
		}, " "),
		Features: []string{
			"Up to 30-hour battery life with quick charging (3 min charge for 3 hours of playback)",
			"Ultra-comfortable, lightweight design with soft fit leather",
			"Multipoint connection allows you to quickly switch between devices",
			"Carry your headphones effortlessly in the redesigned case",
		},
	}
}

// SamplePage returns n distinct products, the page a catalogue caches
// whole (a category's first hundred, say): deterministic, and as varied as
// rows of the data set are, with random identifiers, prices and counts, and
// titles and descriptions drawn from a shop's vocabulary, so that it
// compresses as real pages do rather than as n copies of one product.
func SamplePage(n int) []Product {
	rng := rand.New(rand.NewPCG(uint64(n), 2023))
	text := func(k int) string {
		w := make([]string, k)
		for i := range w {
			w[i] = vocabulary[rng.IntN(len(vocabulary))]
		}
		return strings.Join(w, " ")
	}
	page := make([]Product, n)
	for i := range page {
		asin := fmt.Sprintf("B0%08X", rng.Uint32())
		page[i] = Product{
			ASIN: asin, Title: text(8 + rng.IntN(12)),
			ImgURL:     fmt.Sprintf("https://m.media-amazon.com/images/I/%011X._AC_UL320_.jpg", rng.Uint64()>>20),
			ProductURL: "https://www.amazon.com/dp/" + asin,
			Stars:      float64(rng.IntN(51)) / 10, Reviews: rng.IntN(20_000),
			Price: float64(rng.IntN(50_000)) / 100, ListPrice: float64(rng.IntN(50_000)) / 100,
			CategoryID: 100 + rng.IntN(200), CategoryName: text(2), IsBestSeller: rng.IntN(10) == 0,
			BoughtInLastMonth: rng.IntN(20) * 100, Description: text(30),
			Features: []string{text(10), text(10), text(10), text(10)},
		}
	}
	return page
}

var vocabulary = strings.Fields(`wireless bluetooth headphones noise canceling over ear with
microphone deep bass stereo foldable lightweight headset for travel home office black white blue
red portable speaker waterproof charger cable usb fast charging compatible iphone samsung galaxy
android tablet laptop stand adjustable aluminum ergonomic desk kitchen stainless steel knife set
pieces professional chef sharp handle storage organizer bin clear plastic stackable drawer closet
bathroom makeup kids toys gift women men running shoes size pack case cover screen protector glass`)
