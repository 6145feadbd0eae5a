package main

import (
	"embed"
	"io/fs"
)

//go:embed data/sample/*.csv
var sampleFiles embed.FS

// sampleData is the bundled sample catalogue: amazon_categories.csv and
// amazon_products.csv in the Kaggle format.
func sampleData() fs.FS {
	sub, err := fs.Sub(sampleFiles, "data/sample")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}
