-- The Lua side of essh's loader: sandbox, DSL, require, export.
-- Run once per Lua state by lua_runtime.py; returns the API table Python calls.
-- lua_prelude.py describes the protocol between the two sides.

local G = _G
local getinfo, sethook = debug.getinfo, debug.sethook
local clock = os.clock
local co_create, co_resume, co_yield = coroutine.create, coroutine.resume, coroutine.yield
local co_status, co_isyieldable, co_running = coroutine.status, coroutine.isyieldable, coroutine.running
local sort, concat = table.sort, table.concat
local type, next, ipairs, rawget, rawset, rawlen, pcall = type, next, ipairs, rawget, rawset, rawlen, pcall
local setmetatable, getmetatable, tostring, error, select = setmetatable, getmetatable, tostring, error, select
local format, byte = string.format, string.byte
local math_type, utf8_len, huge = math.type, utf8.len, math.huge
local io_open, io_stderr = io.open, io.stderr
local raw_load, searchpath = load, package.searchpath
local loaded = package.loaded

-- Sandbox: nothing that reaches Python, no native code, no binary chunks.
G.python = nil
loaded.python = nil
G.debug = nil
loaded.debug = nil
package.loadlib = nil
package.cpath = ""
package.searchers = {}

-- os.exit would end essh itself, without a word.
os.exit = function() error("os.exit is not allowed in a configuration; use error(message) to stop", 2) end

G.load = function(chunk, name, mode, ...)
  if select("#", ...) > 0 then return raw_load(chunk, name, "t", ...) end
  return raw_load(chunk, name, "t")
end
G.loadfile = function(path, mode, ...)
  local f, err = io_open(path, "rb")
  if not f then return nil, err end
  local src = f:read("a"); f:close()
  if select("#", ...) > 0 then return raw_load(src, "@" .. path, "t", ...) end
  return raw_load(src, "@" .. path, "t")
end
G.dofile = function(path)
  local fn, err = G.loadfile(path)
  if not fn then error(err, 2) end
  return fn()
end
-- Configuration output must not mix with essh's own standard output
-- (`essh plan --json` is read by programs): print and io.write go to stderr.
io.output(io_stderr)
G.print = function(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  io_stderr:write(concat(parts, "\t"), "\n")
end

local function here(level)
  local info = getinfo(level + 1, "Sl")
  if not info then return "?", 0 end
  local src = info.source
  if src:sub(1, 1) == "@" then src = src:sub(2) else src = info.short_src end
  return src, info.currentline > 0 and info.currentline or 0
end

-- Definitions --------------------------------------------------------------

local info = {}              -- definition object -> {kind, name, file, line, ...}
local registries = {host = {}, task = {}, driver = {}}
local orders = {host = {}, task = {}, driver = {}}
local notices = {}

local function merge(obj, fields)
  local m = info[obj]
  if type(fields) ~= "table" then
    error(format('%s "%s" expects a table of properties, got a %s value', m.kind, m.name, type(fields)), 3)
  end
  for k, v in next, fields do rawset(obj, k, v) end
  return obj
end

local metatables = {}
for _, kind in ipairs({"host", "task", "driver"}) do
  metatables[kind] = {
    __call = function(obj, fields) merge(obj, fields); return obj end,
    __index = function(obj, k) if k == "name" then return info[obj].name end end,
  }
end

local function definer(kind, preset)
  return function(name, fields)
    if type(name) ~= "string" or name == "" then
      error(format('%s needs a name: %s "name" { ... }', kind, kind), 2)
    end
    local file, line = here(2)
    local obj = setmetatable({}, metatables[kind])
    local registry = registries[kind]
    local previous = registry[name]
    info[obj] = {kind = kind, name = name, file = file, line = line}
    if not previous then local order = orders[kind]; order[#order + 1] = name end
    registry[name] = obj
    if preset then for k, v in next, preset do rawset(obj, k, v) end end
    if fields ~= nil then
      if type(fields) ~= "table" then
        error(format('%s "%s" expects a table of properties, got a %s value', kind, name, type(fields)), 2)
      end
      for k, v in next, fields do rawset(obj, k, v) end
    end
    return obj
  end
end

local function deepcopy(v, depth)
  if type(v) ~= "table" or (depth or 0) > 32 then return v end
  local out = {}
  for k, x in next, v do out[k] = deepcopy(x, (depth or 0) + 1) end
  return out
end

local function group(tbl)
  if type(tbl) ~= "table" then error("group expects a table: group { ... }", 2) end
  local file, line = here(2)
  local n, kind = #tbl, nil
  for i = 1, n do
    local m = info[tbl[i]]
    if not m then
      error(format("group: entry #%d is not a host, task or driver definition", i), 2)
    end
    if kind and kind ~= m.kind then
      error(format("group: a group holds one kind of definition, found a %s and a %s", kind, m.kind), 2)
    end
    kind = m.kind
  end
  local defaults = {}
  for k, v in next, tbl do
    if type(k) == "string" then
      defaults[k] = v
    elseif not (math_type(k) == "integer" and k >= 1 and k <= n) then
      error(format("group: unexpected key %s; use name = value for defaults", tostring(k)), 2)
    end
  end
  for i = 1, n do
    local obj = tbl[i]
    local m = info[obj]
    for k, v in next, defaults do
      if rawget(obj, k) == nil then
        rawset(obj, k, deepcopy(v))
        m.group_keys = m.group_keys or {}
        m.group_keys[#m.group_keys + 1] = k
        m.group_file, m.group_line = file, line
      end
    end
  end
  return tbl
end

-- Host selection (essh.select_hosts) ----------------------------------------

-- A glob (fnmatch rules: *, ?, [abc], [!a-z]) as an anchored Lua pattern.
local function glob_pattern(glob)
  local out, i, n = {"^"}, 1, #glob
  while i <= n do
    local c = glob:sub(i, i)
    local close
    if c == "[" then
      local j = i + 1
      if glob:sub(j, j) == "!" then j = j + 1 end
      if glob:sub(j, j) == "]" then j = j + 1 end
      close = glob:find("]", j, true)
    end
    if c == "*" then
      out[#out + 1] = ".*"
    elseif c == "?" then
      out[#out + 1] = "."
    elseif close then
      local body = glob:sub(i + 1, close - 1)
      local negate = body:sub(1, 1) == "!"
      if negate then body = body:sub(2) end
      body = body:gsub("[%%%]%^]", "%%%0")
      out[#out + 1] = "[" .. (negate and "^" or "") .. body .. "]"
      i = close
    elseif c:find("^%w") then
      out[#out + 1] = c
    else
      out[#out + 1] = "%" .. c
    end
    i = i + 1
  end
  out[#out + 1] = "$"
  return concat(out)
end

local function query(q, what)
  if q == nil then return nil end
  if type(q) == "string" then q = {q} end
  if type(q) ~= "table" then error(format("%s expects a string or a list of strings", what), 3) end
  local pats = {}
  for i, s in ipairs(q) do
    if type(s) ~= "string" then error(format("%s expects a string or a list of strings", what), 3) end
    pats[i] = s == "all" and ".*" or glob_pattern(s)
  end
  return pats
end

local function selected(obj, name, pats)
  if pats == nil then return true end
  local tags = rawget(obj, "tags")
  if type(tags) == "string" then tags = {tags} elseif type(tags) ~= "table" then tags = {} end
  for _, p in ipairs(pats) do
    if name:find(p) then return true end
    for _, tag in ipairs(tags) do
      if type(tag) == "string" and tag:find(p) then return true end
    end
  end
  return false
end

local Selection = {}
Selection.__index = Selection
function Selection:filter(q)
  local pats, out = query(q, "filter"), {}
  for _, name in ipairs(self.names) do
    if selected(registries.host[name], name, pats) then out[#out + 1] = name end
  end
  return setmetatable({names = out}, Selection)
end
function Selection:get()
  local out = {}
  for i, name in ipairs(self.names) do out[i] = registries.host[name] end
  return out
end
function Selection:first()
  local name = self.names[1]
  return name and registries.host[name] or nil
end

local function select_hosts(q)
  local pats, names = query(q, "select_hosts"), {}
  for name, obj in next, registries.host do
    if selected(obj, name, pats) then names[#names + 1] = name end
  end
  sort(names)
  return setmetatable({names = names}, Selection)
end

-- Globals of the DSL --------------------------------------------------------

local host, task, driver = definer("host"), definer("task"), definer("driver")
G.host, G.task, G.driver, G.group = host, task, driver, group
G.private_host = definer("host", {private = true})

-- ESSH features this essh does not have: say so instead of "attempt to call a nil value".
local function unsupported(name, instead)
  return function() error(format("%s is not supported by this essh; %s", name, instead), 2) end
end
G.job = unsupported("job", "define the hosts and tasks at the top level")
G.import = unsupported("import", 'use require "name" with name.lua next to the configuration file')

local essh_members = {
  host = host, task = task, driver = driver, group = group,
  private_host = G.private_host, select_hosts = select_hosts, job = G.job, import = G.import,
  debug = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    notices[#notices + 1] = concat(parts, " ")
  end,
}
local member_names = {}
for k in next, essh_members do member_names[#member_names + 1] = k end
sort(member_names)
G.essh = setmetatable(essh_members, {
  __index = function(_, k)
    error(format("essh.%s is not available in this essh (it has: %s)", tostring(k), concat(member_names, ", ")), 2)
  end,
})

-- require: modules next to the configuration file ---------------------------

local running    -- the coroutine of the file being run (see api.start)
local read_by_lua = {}   -- modules read here, not by Python (see api.read_by_lua)

local function read_module(path)
  if co_running() == running and co_isyieldable() then
    -- Python reads it, so list syntax is translated and the file is recorded.
    return co_yield("read", path)
  end
  -- Inside a coroutine of the configuration, or at plan time: plain Lua.
  read_by_lua[#read_by_lua + 1] = path
  local f, err = io_open(path, "rb")
  if not f then return nil, err end
  local src = f:read("a"); f:close()
  return src
end

G.require = function(name)
  if type(name) ~= "string" then error("require expects a module name (a string)", 2) end
  local value = loaded[name]
  if value ~= nil then return value end
  local path, err = searchpath(name, package.path)
  if not path then
    local tried = {}
    for file in err:gmatch("no file '([^']*)'") do tried[#tried + 1] = file end
    error(format("module '%s' not found next to the configuration file (looked for %s)",
                 name, concat(tried, ", ")), 2)
  end
  local src, rerr = read_module(path)
  if not src then error(format("module '%s': %s", name, tostring(rerr)), 2) end
  local fn, lerr = raw_load(src, "@" .. path, "t")
  if not fn then error(lerr, 0) end
  value = fn(name, path)
  if value == nil then value = loaded[name] end
  if value == nil then value = true end
  loaded[name] = value
  return value
end

-- Export: everything as one JSON text ---------------------------------------

local functions = {}
local escapes = {['"'] = '\\"', ["\\"] = "\\\\"}
local function escape(c) return escapes[c] or format("\\u%04x", byte(c)) end
local function bad(what) return '{"\\u0000bad":"' .. what .. '"}' end
local BAD_UTF8 = bad("a string that is not valid UTF-8")
local TOO_DEEP = bad("a table nested too deeply (or containing itself)")

-- The JSON being built: a buffer and its length (cheaper than #buf).
local buf, n = {}, 0

local function put_string(s)
  if s:find('[%c"\\\128-\255]') then
    if s:find("[\128-\255]") and not utf8_len(s) then n = n + 1; buf[n] = BAD_UTF8; return end
    s = s:gsub('[%c"\\]', escape)
  end
  n = n + 1; buf[n] = '"' .. s .. '"'
end

-- Object keys: strings as they are; others (a table mixing a list and names) as "[key]".
-- Raw access only: no metamethod of the configuration runs while exporting.
local function put_key(k)
  local t = type(k)
  if t == "string" and utf8_len(k) then put_string(k)
  elseif t == "number" then put_string("[" .. format("%.17g", k) .. "]")
  else put_string("[" .. t .. "]") end
end

local function encode(v, depth)
  local t = type(v)
  if t == "string" then
    put_string(v)
  elseif t == "table" then
    if depth > 32 then n = n + 1; buf[n] = TOO_DEEP; return end
    local length, count = rawlen(v), 0
    for _ in next, v do count = count + 1 end
    if count == length then
      n = n + 1; buf[n] = "["
      for i = 1, length do
        if i > 1 then n = n + 1; buf[n] = "," end
        encode(rawget(v, i), depth + 1)
      end
      n = n + 1; buf[n] = "]"
    else
      n = n + 1; buf[n] = "{"
      local first = true
      for k, x in next, v do
        if not first then n = n + 1; buf[n] = "," end
        first = false
        put_key(k)
        n = n + 1; buf[n] = ":"
        encode(x, depth + 1)
      end
      n = n + 1; buf[n] = "}"
    end
  elseif t == "number" then
    n = n + 1
    if math_type(v) == "integer" then buf[n] = format("%d", v)
    elseif v ~= v then buf[n] = "NaN"
    elseif v == huge then buf[n] = "1e999"
    elseif v == -huge then buf[n] = "-1e999"
    else buf[n] = format("%.17g", v) end
  elseif t == "boolean" then
    n = n + 1; buf[n] = v and "true" or "false"
  elseif t == "nil" then
    n = n + 1; buf[n] = "null"
  elseif t == "function" then
    functions[#functions + 1] = v
    n = n + 1; buf[n] = format('{"\\u0000fn":%d}', #functions)
  else
    n = n + 1; buf[n] = bad("a " .. t .. " value")
  end
end

local function put(s) n = n + 1; buf[n] = s end

local function take()
  local text = concat(buf, "", 1, n)
  buf, n = {}, 0
  return text
end

local function encode_value(v)
  encode(v, 0)
  return take()
end

-- Objects of one kind, in definition order. Field order is left to Python,
-- which sorts wherever order matters.
local function export_kind(kind)
  local registry = registries[kind]
  put('"' .. kind .. 's":[')
  for i, name in ipairs(orders[kind]) do
    local obj = registry[name]
    local m = info[obj]
    if i > 1 then put(",") end
    put('{"name":'); put_string(name)
    put(',"file":'); put_string(m.file)
    put(',"line":' .. format("%d", m.line))
    if m.group_keys then
      put(',"group":')
      encode({file = m.group_file, line = m.group_line, keys = m.group_keys}, 0)
    end
    put(',"fields":')
    if next(obj) == nil then put("{}") else encode(obj, 0) end
    put("}")
  end
  put("]")
end

local api = {}

-- A CPU-time limit: Python cannot interrupt Lua (not even Ctrl-C), so an
-- endless loop in a configuration must end itself.
local time_limit = 30
function api.set_time_limit(seconds) time_limit = seconds end

local function arm(co)
  local deadline = clock() + time_limit
  local function check()
    if clock() > deadline then
      error(format("still running after %g s of CPU time; is there an endless loop?", time_limit), 2)
    end
  end
  if co then sethook(co, check, "", 100000) else sethook(check, "", 100000) end
end

function api.start(src, path, dir)
  package.path = dir .. "/?.lua;" .. dir .. "/?/init.lua"
  local fn, err = raw_load(src, "@" .. path, "t")
  if not fn then return false, err end
  running = co_create(fn)
  arm(running)
  return true
end

local function message(err)
  if type(err) == "string" then return err end
  local mt = getmetatable(err)
  if mt and mt.__tostring then
    local ok, text = pcall(tostring, err)
    if ok and type(text) == "string" then return text end
  end
  return "error object is a " .. type(err) .. " value"
end

function api.resume(reply)
  local ok, kind, arg = co_resume(running, reply)
  if not ok then return "error", message(kind) end
  if co_status(running) == "dead" then return "done" end
  return kind, arg
end

function api.export()
  put("{")
  export_kind("host"); put(",")
  export_kind("task"); put(",")
  export_kind("driver"); put(',"notices":')
  encode(notices, 0)
  put("}")
  return take()
end

-- Paths of the modules Lua read itself, in order.
function api.read_by_lua()
  return concat(read_by_lua, "\0")
end

-- Call an exported function with one table argument; the argument (which it
-- may have changed) and the result come back as JSON.
function api.call(id, arg)
  arm(nil)
  local ok, result = xpcall(functions[id], message, arg)
  sethook()
  if not ok then return false, result end
  return true, encode_value(result), encode_value(arg)
end

return api
