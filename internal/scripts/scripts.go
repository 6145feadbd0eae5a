// Package scripts holds the Lua scripts cachefront runs on Redis.
//
// Scripts that touch one key (WriteIfGen, DeleteIfPrefix, SetVersion) run
// on every deployment, Redis Cluster included. Scripts that touch several keys
// (SetTagged, Invalidate) are used only on a single-node or Sentinel client,
// where every key lives on one server; on a sharded client the same work is
// done with pipelines.
package scripts

import "github.com/redis/go-redis/v9"

// WriteIfGen stores an entry only if the entry key still holds the generation
// the caller saw before loading ("" when the key was absent).
//
//	KEYS[1] entry key
//	ARGV[1] expected generation, ARGV[2] new entry, ARGV[3] TTL in ms
//
// Returns 1 when written, 0 when another write or a delete came first.
var WriteIfGen = redis.NewScript(`
local cur = redis.call('GETRANGE', KEYS[1], 2, 17)
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// DeleteIfPrefix deletes a key only if its value still starts with ARGV[1],
// so that removing a corrupt entry never removes a newer good one.
var DeleteIfPrefix = redis.NewScript(`
local n = string.len(ARGV[1])
if redis.call('GETRANGE', KEYS[1], 0, n - 1) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// SetTagged writes an entry together with the current versions of its tags,
// creating a tag version for any tag that has none yet and keeping the others
// alive for another tag TTL.
//
//	KEYS[1] entry key, KEYS[2..] tag version keys
//	ARGV[1] entry prefix (fixed header without the tag count)
//	ARGV[2] payload, ARGV[3] entry TTL in ms, ARGV[4] tag TTL in ms
//	ARGV[5] version to create for absent tags, ARGV[6..] tag names
//
// Returns the versions recorded, in the order of the tags.
var SetTagged = redis.NewScript(`
local n = #KEYS - 1
local parts = {ARGV[1], string.char(math.floor(n / 256), n % 256)}
local versions = {}
for i = 1, n do
  local v = redis.call('GET', KEYS[i + 1])
  if not v then
    v = ARGV[5]
    redis.call('SET', KEYS[i + 1], v, 'PX', ARGV[4])
  else
    redis.call('PEXPIRE', KEYS[i + 1], ARGV[4])
  end
  if string.len(v) > 255 then v = string.sub(v, 1, 255) end
  versions[i] = v
  local name = ARGV[5 + i]
  local len = string.len(name)
  parts[#parts + 1] = string.char(math.floor(len / 256), len % 256) .. name .. string.char(string.len(v)) .. v
end
parts[#parts + 1] = ARGV[2]
redis.call('SET', KEYS[1], table.concat(parts), 'PX', ARGV[3])
return versions
`)

// Invalidate advances the namespace's invalidation sequence and gives every
// tag a new version "<seq>:<random>".
//
//	KEYS[1] sequence key, KEYS[2..] tag version keys
//	ARGV[1] tag TTL in ms, ARGV[2] random suffix
//	ARGV[3] events channel, ARGV[4] event (both optional)
//
// Returns the new sequence number.
var Invalidate = redis.NewScript(`
local seq = redis.call('INCR', KEYS[1])
local v = seq .. ':' .. ARGV[2]
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], v, 'PX', ARGV[1])
end
if ARGV[3] then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return seq
`)

// SetVersion gives a tag the version "<seq>:<random>" unless it already
// holds one with a higher sequence, so that a tag's version only ever moves
// forward, however the writes of concurrent invalidations are ordered on the
// way to the tag's node. Either way the tag is kept alive for another tag
// TTL.
//
//	KEYS[1] tag version key
//	ARGV[1] new version, ARGV[2] its sequence, ARGV[3] tag TTL in ms
//
// Returns the version the tag holds afterwards.
var SetVersion = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local n = tonumber(string.match(cur, '^(%d+):'))
  if n and n > tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return cur
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return ARGV[1]
`)
