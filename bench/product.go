package bench

import "strings"

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
