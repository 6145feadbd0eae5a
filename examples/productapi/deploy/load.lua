-- wrk script of render-dashboard.sh: each request a random path of the
-- file named after "--" (one a line), each connection pausing a few
-- milliseconds between requests so that the load stays modest.
local paths = {}

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function delay()
  return math.random(5, 25)
end
