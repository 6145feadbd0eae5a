-- wrk script for faults.sh: cycles through the request paths listed, one
-- per line, in the file named by FAULTS_PATHS.
local paths = {}
local i = 0

function init(args)
  local f = assert(io.open(os.getenv("FAULTS_PATHS"), "r"))
  for line in f:lines() do
    if line ~= "" then paths[#paths + 1] = line end
  end
  f:close()
  i = math.random(#paths)
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
