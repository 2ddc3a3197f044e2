-- ESSH's built-in `json` library (layeh/gopher-json's API): json.encode(value), json.decode(text).
-- Pure Lua; an error names what could not be encoded or where the text is not JSON.
local json = {}
local format, byte, char, sub, find, gsub, concat = string.format, string.byte, string.char, string.sub, string.find, string.gsub, table.concat
local math_type, huge, utf8_char = math.type, math.huge, utf8.char

local escapes = {['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t"}
local function escape(c) return escapes[c] or format("\\u%04x", byte(c)) end

local function encode(v, out, depth)
  local t = type(v)
  if t == "nil" then out[#out + 1] = "null"
  elseif t == "boolean" then out[#out + 1] = v and "true" or "false"
  elseif t == "number" then
    if v ~= v or v == huge or v == -huge then error("json.encode: cannot encode " .. tostring(v), 0) end
    out[#out + 1] = math_type(v) == "integer" and format("%d", v) or format("%.17g", v)
  elseif t == "string" then out[#out + 1] = '"' .. gsub(v, '[%c"\\]', escape) .. '"'
  elseif t == "table" then
    if depth > 100 then error("json.encode: a table nested too deeply (or containing itself)", 0) end
    local n, count = #v, 0
    for _ in next, v do count = count + 1 end
    if count == n and (n > 0 or getmetatable(v) ~= json.object) then
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], out, depth + 1)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in next, v do
        if type(k) ~= "string" then error("json.encode: a table mixing keys of type " .. type(k) .. " with others", 0) end
        keys[#keys + 1] = k
      end
      table.sort(keys)  -- deterministic text: a plan must not depend on table order
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        encode(k, out, depth + 1); out[#out + 1] = ":"; encode(v[k], out, depth + 1)
      end
      out[#out + 1] = "}"
    end
  else error("json.encode: cannot encode a " .. t .. " value", 0) end
end

function json.encode(v)
  local out = {}
  local ok, err = pcall(encode, v, out, 0)
  if not ok then error(err, 2) end  -- blamed on the caller's line
  return concat(out)
end

json.object = {}  -- the metatable of decoded objects (so an empty object encodes as {})

local function fail(text, pos, what) error(format("json.decode: %s at character %d", what, pos), 0) end

local decode_value
local function skip(text, pos) return (find(text, "[^ \t\r\n]", pos)) or #text + 1 end

local function decode_string(text, pos)
  local out, i = {}, pos + 1
  while true do
    local c = sub(text, i, i)
    if c == "" then fail(text, pos, "unterminated string") end
    if c == '"' then return concat(out), i + 1 end
    if c == "\\" then
      local e = sub(text, i + 1, i + 1)
      local simple = ({['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t"})[e]
      if simple then out[#out + 1] = simple; i = i + 2
      elseif e == "u" then
        local code = tonumber(sub(text, i + 2, i + 5), 16)
        if not code then fail(text, i, "bad \\u escape") end
        i = i + 6
        if code >= 0xD800 and code <= 0xDBFF and sub(text, i, i + 1) == "\\u" then
          local low = tonumber(sub(text, i + 2, i + 5), 16)
          if low and low >= 0xDC00 and low <= 0xDFFF then
            code = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00); i = i + 6
          end
        end
        out[#out + 1] = utf8_char(code)
      else fail(text, i, "bad escape") end
    elseif byte(c) < 32 then fail(text, i, "control character in a string")
    else
      local j = find(text, '["\\%c]', i) or #text + 1
      out[#out + 1] = sub(text, i, j - 1); i = j
    end
  end
end

function decode_value(text, pos, depth)
  if depth > 100 then fail(text, pos, "nesting too deep") end
  pos = skip(text, pos)
  local c = sub(text, pos, pos)
  if c == "{" then
    local obj = setmetatable({}, json.object)
    pos = skip(text, pos + 1)
    if sub(text, pos, pos) == "}" then return obj, pos + 1 end
    while true do
      if sub(text, pos, pos) ~= '"' then fail(text, pos, "expected a string key") end
      local k; k, pos = decode_string(text, pos)
      pos = skip(text, pos)
      if sub(text, pos, pos) ~= ":" then fail(text, pos, "expected ':'") end
      obj[k], pos = decode_value(text, pos + 1, depth + 1)
      pos = skip(text, pos)
      local d = sub(text, pos, pos)
      if d == "}" then return obj, pos + 1 end
      if d ~= "," then fail(text, pos, "expected ',' or '}'") end
      pos = skip(text, pos + 1)
    end
  elseif c == "[" then
    local arr, n = {}, 0
    pos = skip(text, pos + 1)
    if sub(text, pos, pos) == "]" then return arr, pos + 1 end
    while true do
      n = n + 1
      arr[n], pos = decode_value(text, pos, depth + 1)
      pos = skip(text, pos)
      local d = sub(text, pos, pos)
      if d == "]" then return arr, pos + 1 end
      if d ~= "," then fail(text, pos, "expected ',' or ']'") end
      pos = pos + 1
    end
  elseif c == '"' then return decode_string(text, pos)
  elseif sub(text, pos, pos + 3) == "true" then return true, pos + 4
  elseif sub(text, pos, pos + 4) == "false" then return false, pos + 5
  elseif sub(text, pos, pos + 3) == "null" then return nil, pos + 4
  else
    local num = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not num or num == "" or num == "-" then fail(text, pos, "unexpected character") end
    return math.tointeger(tonumber(num)) or tonumber(num), pos + #num
  end
end

function json.decode(text)
  if type(text) ~= "string" then error("json.decode expects a string", 2) end
  local ok, value, pos = pcall(decode_value, text, 1, 0)
  if not ok then error(value, 2) end  -- blamed on the caller's line
  pos = skip(text, pos)
  if pos <= #text then error(format("json.decode: trailing text at character %d", pos), 2) end
  return value
end

return json
