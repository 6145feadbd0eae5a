// Package topkeys counts the most read keys of a stream in fixed memory: a
// heavy-hitters summary meant to be fed on every cache read.
//
// # Algorithm
//
// A [Counter] is a set of shards, each a Space-Saving summary (Metwally,
// Agrawal and El Abbadi, "Efficient Computation of Frequent and Top-k
// Elements in Data Streams", ICDT 2005) of capacity k. A key always goes to
// the shard its hash picks. A shard counts each key it tracks; when it meets a
// new key while full, it gives the new key the counter with the smallest
// count m, sets that counter's count to m+1 and records m as its error. A
// shard never holds more than k keys, so a Counter never holds more than
// k×shards, whatever the traffic.
//
// # Error bound
//
// Let N be the number of observations since the last [Counter.Reset] (see
// [Counter.Total]) and k the capacity given to [New]. For every [Entry] that
// [Counter.Top] reports:
//
//   - Count-Error <= the key's true count <= Count;
//   - Error <= N/k.
//
// Every key whose true count is greater than N/k is reported. These bounds
// are deterministic: they hold for every stream and every shard count,
// because each shard is a full Space-Saving summary of capacity k over the
// keys it sees, and a shard sees at most N observations. On a stream spread
// over the shards the error is typically nearer N/(k×shards).
//
// A shard's counts always add up to the observations it received, so the
// counts of all reported entries add up to N.
//
// Space-Saving alone is used rather than Space-Saving fed by a count-min
// sketch: a sketch's estimates hold only with a probability, it costs several
// hashes and memory writes per observation, and its use here (admitting a key
// only when its estimate beats the smallest counter) would give up the
// deterministic bound above in exchange for fewer replacements.
//
// # Concurrency and cost
//
// A Counter is safe for concurrent use. Each shard has its own mutex, held
// for one map look-up and a sift in a heap of k entries; shards are padded
// apart so that goroutines on different shards do not share cache lines.
// Observing a key that is tracked allocates nothing; admitting a new key
// allocates one copy of it, so that the Counter never keeps a caller's larger
// string alive. Observations of one key always meet on one shard, so a single
// very hot key serialises on its shard's mutex; the other shards stay free.
//
// [Counter.Top], [Counter.Total] and [Counter.Reset] visit the shards one
// after another, each under its lock. Under concurrent traffic a call
// therefore sees each shard at a slightly different moment; the bounds still
// hold for every entry, with N read by a Total call made after the Top call
// (N only grows between resets).
//
// A nil *Counter observes nothing and reports nothing, so that a disabled
// statistic costs a nil check.
package topkeys
