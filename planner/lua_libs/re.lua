-- ESSH's built-in `re` library (gluare's API: Lua's string functions with Go's regular
-- expressions): re.find, re.match, re.gmatch, re.gsub, re.quote, and re.split.
-- The matching is RE2's (lua_helpers.py): linear in the input, no catastrophic backtracking.
local _, helpers, json = ...
local scan, quote = helpers.re_scan, helpers.re_quote
local sub, byte, type, error, tostring, concat = string.sub, string.byte, type, error, tostring, table.concat
local sfind, sgsub, unpack, tonumber, ipairs = string.find, string.gsub, table.unpack, tonumber, ipairs
local decode = json.decode

local re = {}

-- The matches as lists of 1-based byte offsets: {start, stop+1, cap1start, cap1stop+1, ...}.
local function matches(s, pattern, init, limit, name)
  if type(s) ~= "string" then error(name .. " expects a string to search (argument #1)", 3) end
  if type(pattern) ~= "string" then error(name .. " expects a pattern (argument #2)", 3) end
  local answer = scan(pattern, s, init or 1, limit or -1)
  if byte(answer, 1) ~= 43 then error("re." .. name .. ": " .. sub(answer, 2), 3) end  -- "+"; "-" or "!" (a limit)
  return decode(sub(answer, 2))
end

local function captures(s, m, whole)
  local out = {}
  if #m == 2 then
    if whole then out[1] = sub(s, m[1], m[2] - 1) end
    return out
  end
  for i = 3, #m, 2 do out[#out + 1] = sub(s, m[i], m[i + 1] - 1) end
  return out
end

local function start_at(s, init)
  if init == nil then return 1 end
  if init < 0 then init = #s + init + 1 end
  if init < 1 then init = 1 end
  return init
end

function re.find(s, pattern, init, plain)
  init = start_at(s, init)
  if plain then
    local first, last = sfind(s, pattern, init, true)
    return first, last
  end
  local m = matches(s, pattern, init, 1, "find")[1]
  if not m then return nil end
  return m[1], m[2] - 1, unpack(captures(s, m, false))
end

function re.match(s, pattern, init)
  local m = matches(s, pattern, start_at(s, init), 1, "match")[1]
  if not m then return nil end
  return unpack(captures(s, m, true))
end

function re.gmatch(s, pattern)
  local all, i = matches(s, pattern, 1, -1, "gmatch"), 0
  return function()
    i = i + 1
    local m = all[i]
    if not m then return nil end
    return unpack(captures(s, m, true))
  end
end

-- repl: a string with %0-%9 and %%, a table (by the first capture), or a function (of the captures).
-- Called by re.gsub only: level 3 of an error is the configuration's line that called re.gsub.
local function replacement(s, m, repl)
  local caps = captures(s, m, true)
  local whole = sub(s, m[1], m[2] - 1)
  local kind, value = type(repl)
  if kind == "string" then
    local bad
    local text = sgsub(repl, "%%(.)", function(c)
      if c == "0" then return whole end
      local n = tonumber(c)
      if n then
        if caps[n] == nil then bad = bad or c; return "" end
        return caps[n]
      end
      return c
    end)
    if bad then error("re.gsub: invalid capture index %" .. bad .. " in the replacement", 3) end
    return text
  elseif kind == "table" then value = repl[caps[1]]
  elseif kind == "function" then value = repl(unpack(caps))
  else error("re.gsub expects a string, table or function replacement (argument #3)", 3) end
  if value == nil or value == false then return whole end
  return tostring(value)
end

function re.gsub(s, pattern, repl, n)
  local found = matches(s, pattern, 1, n or -1, "gsub")
  local out, last = {}, 1
  for _, m in ipairs(found) do
    out[#out + 1] = sub(s, last, m[1] - 1)
    out[#out + 1] = replacement(s, m, repl)
    last = m[2]
  end
  out[#out + 1] = sub(s, last)
  return concat(out), #found
end

-- re.split(s, pattern [, n]): the pieces between matches (Go's Regexp.Split: n < 0 or nil, all).
function re.split(s, pattern, n)
  if n == 0 then return {} end
  local limit = (n and n > 0) and n - 1 or -1
  local out, last = {}, 1
  for _, m in ipairs(matches(s, pattern, 1, limit, "split")) do
    if not (m[2] == m[1] and m[1] == 1) then  -- an empty match at the start splits nothing
      out[#out + 1] = sub(s, last, m[1] - 1)
      last = m[2]
    end
  end
  out[#out + 1] = sub(s, last)
  return out
end

function re.quote(s)
  if type(s) ~= "string" then error("re.quote expects a string", 2) end
  return sub(quote(s), 2)
end

return re
