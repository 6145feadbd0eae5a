package topkeys_test

import (
	"fmt"

	"github.com/cachefront/cachefront/internal/topkeys"
)

func ExampleCounter() {
	c, err := topkeys.New(2, topkeys.WithShards(1))
	if err != nil {
		panic(err)
	}
	for _, key := range []string{"a", "b", "a", "c", "a", "b", "a"} {
		c.Observe(key)
	}
	// With room for two keys, "c" took over b's counter (1) and "b" took
	// back c's (2): the errors say by how much each count may be too high.
	for _, e := range c.Top(10) {
		fmt.Printf("%s count=%d error=%d true count in [%d, %d]\n", e.Key, e.Count, e.Error, e.Count-e.Error, e.Count)
	}
	fmt.Println("observations:", c.Total())
	// Output:
	// a count=4 error=0 true count in [4, 4]
	// b count=3 error=2 true count in [1, 3]
	// observations: 7
}
