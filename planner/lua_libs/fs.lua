-- ESSH's built-in `fs` library (gluafs's API), read-only while planning:
-- exists, read, isdir, dirname, basename, getcwd. Writing is refused: planning changes nothing.
-- A file read with fs.read is recorded like a required module (its sha256 goes into the plan).
local read_recorded = ...
local fs = {}
local io_open, error = io.open, error
local match = string.match

function fs.exists(path)
  local f = io_open(path, "rb")
  if f then f:close(); return true end
  return false
end
function fs.read(path)
  local text, err = read_recorded(path)
  if text == nil then return nil, err end
  return text
end
function fs.isdir(path)
  local f = io_open(path, "rb")
  if not f then return false end
  local ok, _, code = f:read(1)
  f:close()
  return ok == nil and code == 21  -- EISDIR
end
function fs.dirname(path) return match(path, "^(.*)/[^/]*$") or "." end
function fs.basename(path) return match(path, "([^/]*)/*$") end
for _, name in ipairs({"write", "mkdir", "remove", "symlink", "copy", "move", "chdir"}) do
  fs[name] = function()
    error("fs." .. name .. " is not available: planning is read-only; do it in a task's script", 2)
  end
end
return fs
