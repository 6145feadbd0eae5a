// Package gen writes synthetic data files in exactly the format of the Kaggle
// "Amazon Products Dataset 2023 (1.4M products)": amazon_categories.csv
// (id,category_name) and amazon_products.csv
// (asin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,
// isBestSeller,boughtInLastMonth).
//
// The files look like the real export, awkward parts included: a UTF-8
// byte-order mark, titles quoted because they hold commas, doubled quotes or
// line breaks, short titles and titles with a leading space, text beyond
// ASCII, empty titles (about one row in a thousand: real exports hold
// them, and the importer takes them although the API's create route would
// not), floats written as "0.0", booleans as True/False. Every row is valid
// under the importer's rules (catalog.Product.CheckImported), so a generated
// file imports with no errors; ASINs are unique. Output is a pure function
// of the row count and the seed.
package gen

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// File names, as in the Kaggle data set.
const (
	ProductsFile   = "amazon_products.csv"
	CategoriesFile = "amazon_categories.csv"
)

// Write creates (or replaces) ProductsFile with rows products and
// CategoriesFile with about 250 categories in dir, which must exist. The
// same rows and seed give byte-identical files.
func Write(dir string, rows int, seed int64) error {
	if rows < 0 {
		return fmt.Errorf("gen: negative row count %d", rows)
	}
	cats := Categories(seed)
	if err := writeFile(filepath.Join(dir, CategoriesFile), func(w *bufio.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"id", "category_name"})
		for _, c := range cats {
			cw.Write([]string{strconv.FormatInt(c.ID, 10), c.Name})
		}
		cw.Flush()
		return cw.Error()
	}); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, ProductsFile), func(w *bufio.Writer) error {
		// Real exports start with a byte-order mark.
		w.WriteString("\xEF\xBB\xBF")
		cw := csv.NewWriter(w)
		cw.Write([]string{"asin", "title", "imgUrl", "productURL", "stars", "reviews",
			"price", "listPrice", "category_id", "isBestSeller", "boughtInLastMonth"})
		g := newProductGen(seed, cats)
		rec := make([]string, 11)
		for i := range rows {
			g.product(i, rec)
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

func writeFile(path string, fill func(*bufio.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := fill(w); err != nil {
		f.Close()
		return fmt.Errorf("gen: writing %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("gen: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("gen: writing %s: %w", path, err)
	}
	return nil
}

// Category is one row of CategoriesFile.
type Category struct {
	ID   int64
	Name string
}

// Categories returns the categories Write writes for seed: about 250, with
// ids from 1 upwards with a few gaps, as in the real file.
func Categories(seed int64) []Category {
	r := rand.New(rand.NewPCG(uint64(seed), 0x63617473))
	var out []Category
	id := int64(0)
	for _, dept := range departments {
		for _, kind := range dept.kinds {
			id++
			if r.IntN(12) == 0 {
				id++ // the real ids have gaps
			}
			out = append(out, Category{ID: id, Name: dept.name + kind})
		}
	}
	return out
}

// departments × kinds give the category names; some hold commas, quotes
// and non-ASCII letters, like the real ones ("Kids' Furniture", "Baby & Toddler
// Toys").
var departments = []struct {
	name  string
	kinds []string
}{
	{"Beading & Jewelry Making", []string{"", " Kits", " Tools"}},
	{"Fabric Decorating", []string{"", " Supplies"}},
	{"Knitting & Crochet", []string{" Supplies", " Yarn", " Needles"}},
	{"Printmaking", []string{"", " Supplies"}},
	{"Scrapbooking & Stamping", []string{"", " Supplies"}},
	{"Sewing", []string{" Products", " Machines", " Notions"}},
	{"Party Decorations", []string{"", ", Balloons", " & Banners"}},
	{"Craft", []string{" Supplies & Materials", " Kits", " Storage"}},
	{"Painting, Drawing & Art", []string{" Supplies", " Canvases", " Easels"}},
	{"Automotive", []string{" Replacement Parts", " Tools & Equipment", " Interior Accessories", " Exterior Accessories", " Lights & Lighting", " Oils & Fluids", " Paint & Paint Supplies", " Performance Parts", " Tires & Wheels"}},
	{"Baby", []string{" Care Products", " Diapering Products", " Gifts", " Safety Products", " Stationery", " Strollers", " Travel Gear", " Activity & Entertainment", " Bedding", " Girls' Clothing", " Boys' Clothing", " Toddler Toys"}},
	{"Beauty", []string{" Tools & Accessories", " Foot, Hand & Nail Care", " Hair Care Products", " Makeup", " Skin Care Products", " Fragrance", " Personal Care Products", " Shaving & Hair Removal"}},
	{"Oral Care", []string{" Products", " Toothbrushes"}},
	{"Women's", []string{" Clothing", " Shoes", " Jewelry", " Watches", " Handbags", " Accessories", " Care Products"}},
	{"Men's", []string{" Clothing", " Shoes", " Jewelry", " Watches", " Accessories"}},
	{"Girls'", []string{" Clothing", " Shoes", " Jewelry", " Watches", " Accessories", " School Uniforms"}},
	{"Boys'", []string{" Clothing", " Shoes", " Jewelry", " Watches", " Accessories", " School Uniforms"}},
	{"Luggage", []string{"", " Sets", " & Travel Gear"}},
	{"Computers", []string{"", " & Tablets", " Monitors", " Networking Products", " External Components", " Internal Components", " Servers", " Data Storage", " Printers", " Scanners", " Accessories"}},
	{"Electronics", []string{" Accessories & Supplies", " Camera & Photo", " Car & Vehicle", " Headphones, Earbuds & Accessories", " Home Audio & Theater", " Portable Audio & Video", " Security & Surveillance", " Television & Video", " Wearable Technology", " GPS & Navigation", " eBook Readers"}},
	{"Video Games", []string{"", " PlayStation 5", " PlayStation 4", " Xbox Series X & S", " Xbox One", " Nintendo Switch", " PC Gaming", " Legacy Systems", " Virtual Reality"}},
	{"Home", []string{" Décor Products", " Storage & Organization", " Lighting & Ceiling Fans", " Heating, Cooling & Air Quality", " Cleaning Supplies", " Bath Products", " Bedding", " Furniture", " Kitchen & Dining", " Vacuums & Floor Care", " Wall Art", " Seasonal Décor", " Event & Party Supplies"}},
	{"Kitchen", []string{" Utensils & Gadgets", " Storage & Organization", " Small Appliances", " Cookware", " Bakeware", " Knives & Accessories", " Coffee, Tea & Espresso", " Dining & Entertaining", " Wine Accessories"}},
	{"Tools & Home Improvement", []string{"", " Power Tools", " Hand Tools", " Electrical Equipment", " Hardware", " Building Supplies", " Safety & Security", " Measuring & Layout", " Painting Supplies", " Welding & Soldering"}},
	{"Industrial & Scientific", []string{"", " Lab Supplies", " Janitorial", " Packaging & Shipping", " Test & Measurement", " 3D Printing", " Abrasives"}},
	{"Pet", []string{" Supplies", " Dogs", " Cats", " Fish & Aquatic Pets", " Birds", " Reptiles & Amphibians", " Small Animals", " Horses"}},
	{"Sports & Outdoors", []string{"", " Exercise & Fitness", " Hunting & Fishing", " Camping & Hiking", " Cycling", " Golf", " Water Sports", " Winter Sports", " Team Sports", " Fan Shop", " Skateboarding", " Climbing"}},
	{"Toys & Games", []string{"", " Puzzles", " Dolls & Accessories", " Building Toys", " Games & Accessories", " Kids' Electronics", " Learning & Education", " Novelty & Gag Toys", " Stuffed Animals & Plush Toys", " Sports & Outdoor Play", " Toy Figures & Playsets", " Vehicles & Remote-Control", " Kids' Dress Up & Pretend Play", " Kids' Furniture, Décor & Storage", " Arts & Crafts"}},
	{"Health", []string{" & Household", " Medical Supplies & Equipment", " Vitamins & Supplements", " Wellness & Relaxation", " Sexual Wellness", " Sports Nutrition"}},
	{"Office", []string{" Products", " Electronics", " School Supplies", " Furniture & Lighting", " Paper"}},
	{"Garden", []string{" & Outdoor", " Gardening & Lawn Care", " Grills & Outdoor Cooking", " Outdoor Power Tools", " Patio Furniture & Accessories", " Pest Control"}},
	{"Grocery", []string{" & Gourmet Food", " Beverages", " Snacks", " Breakfast Foods", " Pantry Staples"}},
	{"Musical Instruments", []string{"", " Guitars", " Keyboards & MIDI", " Drums & Percussion", " Live Sound & Stage", " Studio Recording Equipment", " Amplifiers & Effects"}},
	{"Arts, Crafts & Sewing", []string{"", " Storage", " Gift Wrapping Supplies"}},
	{"Smart Home", []string{"", " Lighting", " Security Cameras & Systems", " Thermostats", " Plugs & Outlets", " Voice Assistants & Hubs"}},
	{"Cell Phones", []string{" & Accessories", " Cases, Holsters & Sleeves", " Chargers & Power Adapters", " Screen Protectors"}},
	{"Appliances", []string{"", " Refrigerators", " Washers & Dryers", " Ranges, Ovens & Cooktops", " Dishwashers"}},
	{"Movies & TV", []string{"", " Blu-ray", " DVD"}},
	{"Books", []string{"", " Children's Books", " Cookbooks, Food & Wine"}},
	{"Gift Cards", []string{""}},
	{"Industrial", []string{" Hydraulics, Pneumatics & Plumbing", " Power Transmission", " Fasteners"}},
}

// productGen draws products. Its randomness comes only from its seed.
type productGen struct {
	r    *rand.Rand
	cats []Category
	// weights skew products towards some categories, as in the real file.
	cum []float64
}

func newProductGen(seed int64, cats []Category) *productGen {
	g := &productGen{r: rand.New(rand.NewPCG(uint64(seed), 0x70726f64)), cats: cats}
	w := rand.New(rand.NewPCG(uint64(seed), 0x77676874))
	total := 0.0
	for range cats {
		total += 0.2 + w.ExpFloat64()
		g.cum = append(g.cum, total)
	}
	for i := range g.cum {
		g.cum[i] /= total
	}
	return g
}

func (g *productGen) category() Category {
	x := g.r.Float64()
	lo, hi := 0, len(g.cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if g.cum[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return g.cats[lo]
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// asin returns a unique ASIN for row i: "B0" and eight base-36 digits of a
// bijective scramble of i, so neighbouring rows do not share prefixes.
func asin(i int) string {
	const space = 2821109907456 // 36^8
	// Multiplication by an odd constant is a bijection modulo 2^k; keep
	// the result below 36^8 by cycle-walking.
	x := uint64(i)
	for {
		x = (x*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & (1<<42 - 1)
		if x < space {
			break
		}
	}
	var b [10]byte
	b[0], b[1] = 'B', '0'
	for j := 9; j >= 2; j-- {
		b[j] = alnum[x%36]
		x /= 36
	}
	return string(b[:])
}

func (g *productGen) product(i int, rec []string) {
	r := g.r
	a := asin(i)
	cat := g.category()
	rec[0] = a
	rec[1] = g.title(cat)
	var img [11]byte
	for j := range img {
		img[j] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-"[r.IntN(64)]
	}
	rec[2] = "https://m.media-amazon.com/images/I/" + string(img[:]) + "._AC_UL320_.jpg"
	rec[3] = "https://www.amazon.com/dp/" + a

	stars, reviews := 0.0, int64(0)
	if r.IntN(10) != 0 { // a tenth of products have no reviews
		stars = math.Round((5-math.Abs(r.NormFloat64())*0.6)*10) / 10
		stars = max(1, min(5, stars))
		reviews = int64(math.Exp(r.Float64()*10)) + 1
	}
	rec[4] = pyFloat(stars)
	rec[5] = strconv.FormatInt(reviews, 10)

	// Prices are whole cents, ending in 9 as shop prices do; they are
	// computed in cents, because subtracting 0.01 from a float in dollars
	// gives prices such as 27.209999999999997.
	price := int64(math.Round(math.Exp(1+r.Float64()*5)*100)) - 1
	if r.IntN(20) == 0 {
		price = 0 // unavailable
	}
	price = max(price, 0)
	rec[6] = centsFloat(price)
	list := int64(0)
	if r.IntN(4) == 0 && price > 0 {
		list = int64(math.Round(float64(price)*(1.1+r.Float64()*0.6))) - 1
	}
	rec[7] = centsFloat(list)
	rec[8] = strconv.FormatInt(cat.ID, 10)
	if r.IntN(150) == 0 {
		rec[9] = "True"
	} else {
		rec[9] = "False"
	}
	bought := 0
	if r.IntN(5) == 0 {
		bought = []int{50, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000, 60000, 70000, 80000, 90000, 100000}[int(r.ExpFloat64()*2)%25]
	}
	rec[10] = strconv.Itoa(bought)
}

// centsFloat formats an amount in cents as pyFloat formats dollars: "27.21",
// "0.0".
func centsFloat(cents int64) string { return pyFloat(float64(cents) / 100) }

// pyFloat formats v as pandas writes floats: shortest form, always with a
// decimal point ("0.0", "4.7", "21.99").
func pyFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

var (
	brands = []string{"Amazon Basics", "Anker", "SAMSUNG", "Sony", "Logitech", "Hamilton Beach", "KitchenAid",
		"Crayola", "LEGO", "Hasbro", "Nike", "adidas", "Carhartt", "Levi's", "Hanes", "Fruit of the Loom",
		"Coleman", "Stanley", "DEWALT", "BLACK+DECKER", "Ninja", "Instant Pot", "Cuisinart", "Lodge",
		"Nestlé", "Häagen-Dazs", "L'Oréal Paris", "Neutrogena", "CeraVe", "Olay", "Crocs", "Skechers",
		"Zojirushi", "Muji", "Šimek", "Brändle", "Café Bustelo", "Ravensburger", "Melissa & Doug", "Osprey"}
	adjectives = []string{"Premium", "Portable", "Wireless", "Heavy Duty", "Stainless Steel", "Waterproof",
		"Adjustable", "Ergonomic", "Compact", "Rechargeable", "Non-Stick", "Organic", "Extra Large",
		"Lightweight", "Foldable", "Vintage", "Soft", "Durable", "Eco-Friendly", "Professional"}
	nouns = []string{"Organizer", "Charger", "Headphones", "Backpack", "Water Bottle", "Desk Lamp",
		"Cutting Board", "Phone Case", "Yoga Mat", "Blender", "Frying Pan", "T-Shirt", "Sneakers",
		"Storage Bins", "Puzzle", "Action Figure", "Notebook", "Pen Set", "Dog Leash", "Cat Tree",
		"Garden Hose", "Drill", "Screwdriver Set", "Tent", "Sleeping Bag", "Bike Light", "Keyboard",
		"Mouse", "USB-C Cable", "Picture Frame", "Throw Pillow", "Shower Curtain", "Coffee Maker"}
	extras = []string{"for Men and Women", "with Storage Pocket", "2 Pack", "Set of 4", "BPA Free",
		"Gift for Kids", "Dishwasher Safe", "Fits 15.6\" Laptop", "12\" x 18\"", "Black/Grey",
		"100% Cotton", "Größe M", "Ideal für Zuhause", "日本製", "Édition Spéciale", "✓ Easy Setup",
		"🎁 Holiday Gift", "Size 8-10", "Compatible with iPhone 15/15 Pro", "Model #A-113"}
)

// title draws a product title. Most are long, Amazon-style and full of
// commas (so quoted in the CSV); a few carry quotes, line breaks, a leading
// space, are just a noun, or are empty.
func (g *productGen) title(cat Category) string {
	r := g.r
	switch n := r.IntN(1000); {
	case n == 0:
		return nouns[r.IntN(len(nouns))]
	case n < 4:
		return brands[r.IntN(len(brands))] + " " + nouns[r.IntN(len(nouns))] + "\nNew Version"
	case n < 6:
		return "\"" + nouns[r.IntN(len(nouns))] + "\" by " + brands[r.IntN(len(brands))] + " - \"Best Seller\" Edition"
	case n < 8:
		return " " + nouns[r.IntN(len(nouns))] + ", leading space"
	case n == 8:
		return "" // real exports have products without a title
	}
	var b strings.Builder
	b.WriteString(brands[r.IntN(len(brands))])
	b.WriteByte(' ')
	b.WriteString(adjectives[r.IntN(len(adjectives))])
	b.WriteByte(' ')
	b.WriteString(nouns[r.IntN(len(nouns))])
	for k := r.IntN(4); k > 0; k-- {
		b.WriteString(", ")
		if r.IntN(3) == 0 {
			b.WriteString(adjectives[r.IntN(len(adjectives))])
			b.WriteByte(' ')
		}
		b.WriteString(extras[r.IntN(len(extras))])
	}
	if r.IntN(3) == 0 {
		b.WriteString(" - ")
		b.WriteString(cat.Name)
	}
	return b.String()
}
