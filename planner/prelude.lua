-- The Lua side of essh's loader: sandbox, DSL, require, export.
-- Run once per Lua state by lua_runtime.py; returns the API table Python calls.
-- lua_prelude.py describes the protocol between the two sides.

-- What Python hands over (never stored where configuration code can reach it):
-- tick() -> 0 to go on, else why to stop (see lua_limits.py); stop_messages[why];
-- select_hosts(json) -> names joined by NUL, or nil (see lua_runtime.py).
local from_python = ...
local tick, stop_messages, py_select_hosts = from_python.tick, from_python.stop_messages, from_python.select_hosts
local HOOK_COUNT = from_python.hook_count

-- Every library function the loader uses, taken before configuration code can replace it.
-- The loader never calls a method (s:find, f:read): those go through metatables.
local G = _G
local getinfo, sethook = debug.getinfo, debug.sethook
local co_create, co_resume, co_yield, co_wrap = coroutine.create, coroutine.resume, coroutine.yield, coroutine.wrap
local co_status, co_isyieldable, co_running, co_close = coroutine.status, coroutine.isyieldable, coroutine.running, coroutine.close
local sort, concat = table.sort, table.concat
local type, next, ipairs, rawget, rawset, rawlen = type, next, ipairs, rawget, rawset, rawlen
local raw_pcall, raw_xpcall = pcall, xpcall
local raw_setmetatable, getmetatable, tostring, error, select = setmetatable, getmetatable, tostring, error, select
local format, byte, find, sub, gsub, gmatch = string.format, string.byte, string.find, string.sub, string.gsub, string.gmatch
local math_type, utf8_len, huge = math.type, utf8.len, math.huge
local io_open, io_stderr = io.open, io.stderr
local file_methods = getmetatable(io_stderr).__index
local file_read, file_write, file_close = file_methods.read, file_methods.write, file_methods.close
local raw_load, searchpath, collectgarbage = load, package.searchpath, collectgarbage
local loaded = package.loaded

-- Sandbox: nothing that reaches Python, no native code, no binary chunks.
G.python = nil
loaded.python = nil
G.debug = nil
loaded.debug = nil
package.loadlib = nil
package.cpath = ""
package.searchers = {}
-- Files' shared metatable holds the methods above and their finalizer: not the configuration's to change.
getmetatable(io_stderr).__metatable = false

-- Limits (lua_limits.py) ------------------------------------------------------

-- Why the current call from Python was stopped, as an error message with the
-- position where it happened; nil while it may go on.
local stopped

-- "file:line: " of the innermost configuration function running (not this prelude's, not C).
local PRELUDE = getinfo(1, "S").source
local function configuration_line()
  for level = 3, 200 do  -- 1: this function, 2: the hook
    local info = getinfo(level, "Sl")
    if not info then break end
    if info.source ~= PRELUDE and info.currentline > 0 then
      return format("%s:%d: ", info.short_src, info.currentline)
    end
  end
  return ""
end

-- Every HOOK_COUNT instructions: ask Python whether to go on (its answer stays
-- "stop" until its next call into Lua) and raise again while it says so.
local function hook()
  local ok, why = raw_pcall(tick)
  if not ok then why = 3 end  -- tick never raises, but for a KeyboardInterrupt Python could not hold back
  if why == 0 then stopped = nil; return end
  if not stopped then stopped = configuration_line() .. stop_messages[why] end
  error(stopped, 0)
end
sethook(hook, "", HOOK_COUNT)

-- Each coroutine needs its own hook (a new one inherits the count, not the function).
local function watched(co) sethook(co, hook, "", HOOK_COUNT); return co end

-- Whatever catches an error passes a stop on.
local function pass_stop(ok, ...)
  if not ok and stopped then error(stopped, 0) end
  return ok, ...
end
local function pass_stop_nil(first, ...)
  if first == nil and stopped then error(stopped, 0) end
  return first, ...
end

G.pcall = function(...) return pass_stop(raw_pcall(...)) end
-- A stop raised by the hook leaves hooks off until a pcall catches it: the
-- configuration's message handler must not run then (nothing could stop it).
G.xpcall = function(fn, handler, ...)
  local function handle(err)
    if stopped then return stopped end
    return handler(err)
  end
  return pass_stop(raw_xpcall(fn, handle, ...))
end
local function need_function(fn, name)
  if type(fn) ~= "function" then
    error(format("bad argument #1 to '%s' (function expected, got %s)", name, type(fn)), 3)
  end
end
coroutine.create = function(fn)
  need_function(fn, "create")
  return watched(co_create(fn))
end
coroutine.wrap = function(fn)
  need_function(fn, "wrap")
  return co_wrap(function(...) watched(co_running()); return fn(...) end)
end
coroutine.resume = function(...) return pass_stop(co_resume(...)) end
coroutine.close = function(...) return pass_stop(co_close(...)) end

-- Finalizers run with hooks off (and at the end of essh): nothing could stop one that loops.
G.setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("__gc (a finalizer) is not allowed in a configuration", 2)
  end
  return raw_setmetatable(t, mt)
end

-- os.getenv of a name that looks secret: its value would be in the plan in clear. Noted for a
-- plan warning that suggests essh.secret (names only; the value never leaves here).
local os_getenv, upper = os.getenv, string.upper
local secret_reads = {}
os.getenv = function(name)
  local value = os_getenv(name)
  if value ~= nil and type(name) == "string" then
    local u = upper(name)
    if find(u, "PASSWORD", 1, true) or find(u, "TOKEN", 1, true) or find(u, "SECRET", 1, true) or find(u, "KEY", 1, true) then
      secret_reads[name] = true
    end
  end
  return value
end

-- os.exit would end essh itself, without a word.
os.exit = function() error("os.exit is not allowed in a configuration; use error(message) to stop", 2) end

G.load = function(chunk, name, mode, ...)
  if select("#", ...) > 0 then return pass_stop_nil(raw_load(chunk, name, "t", ...)) end
  return pass_stop_nil(raw_load(chunk, name, "t"))
end
local function loadfile(path, mode, ...)
  local f, err = io_open(path, "rb")
  if not f then return nil, err end
  local src = file_read(f, "a"); file_close(f)
  if select("#", ...) > 0 then return raw_load(src, "@" .. path, "t", ...) end
  return raw_load(src, "@" .. path, "t")
end
G.loadfile = loadfile
G.dofile = function(path)
  local fn, err = loadfile(path)
  if not fn then error(err, 2) end
  return fn()
end
-- Configuration output must not mix with essh's own standard output
-- (`essh plan --json` is read by programs): print and io.write go to stderr.
io.output(io_stderr)
G.print = function(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
  file_write(io_stderr, concat(parts, "\t"), "\n")
end

local function here(level)
  local info = getinfo(level + 1, "Sl")
  if not info then return "?", 0 end
  local src = info.source
  if sub(src, 1, 1) == "@" then src = sub(src, 2) else src = info.short_src end
  return src, info.currentline > 0 and info.currentline or 0
end

-- Definitions --------------------------------------------------------------

local encode_value  -- a value as JSON (see Export)

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
    local obj = raw_setmetatable({}, metatables[kind])
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

-- Which of `names` the query `q` selects, sorted: one rule for the whole of essh,
-- targets.py's (a name or a tag; a glob when it has * ? [; "all"), asked of Python.
local function pick(names, q, what)
  if q == nil then return names end
  if type(q) == "string" then q = {q} end
  if type(q) ~= "table" then error(format("%s expects a string or a list of strings", what), 3) end
  local patterns = {}
  for i, s in ipairs(q) do
    if type(s) ~= "string" then error(format("%s expects a string or a list of strings", what), 3) end
    patterns[i] = s
  end
  local hosts = {}
  for _, name in ipairs(names) do
    local obj = registries.host[name]
    if obj and utf8_len(name) then
      local tags = rawget(obj, "tags")
      if type(tags) == "string" then tags = {tags} elseif type(tags) ~= "table" then tags = {} end
      local strings = {}
      for _, tag in ipairs(tags) do
        if type(tag) == "string" then strings[#strings + 1] = tag end
      end
      hosts[name] = strings
    end
  end
  local ok, reply = raw_pcall(py_select_hosts, encode_value({patterns = patterns, hosts = hosts}))
  if stopped then error(stopped, 0) end
  if not ok or type(reply) ~= "string" then error(format("essh: %s failed; please report this", what), 3) end
  local out = {}
  for name in gmatch(reply, "[^\0]+") do out[#out + 1] = name end
  return out
end

local Selection = {}
Selection.__index = Selection
-- Each filter narrows what the ones before it left (ESSH's rule: an intersection).
function Selection:filter(q)
  local names = self.names
  if type(q) == "table" then
    for _, entry in ipairs(q) do names = pick(names, entry, "filter") end
  else
    names = pick(names, q, "filter")
  end
  return raw_setmetatable({names = names}, Selection)
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
  local names = {}
  for name in next, registries.host do names[#names + 1] = name end
  sort(names)
  return raw_setmetatable({names = pick(names, q, "select_hosts")}, Selection)
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
-- import is defined with require, below.

local essh_members = {
  ssh_config = from_python.ssh_config,  -- where `essh ssh` writes the generated ssh_config (ESSH's variable)
  host = host, task = task, driver = driver, group = group,
  private_host = G.private_host, select_hosts = select_hosts, job = G.job, import = G.import,
  -- A secret's reference: an `env` value resolved only when the plan is applied (lua_values.SECRET).
  secret = function(name)
    if type(name) ~= "string" or not find(name, "^[A-Za-z_][A-Za-z0-9_]*$") then
      error("essh.secret expects a name of letters, digits and _ (not starting with a digit)", 2)
    end
    return {["\0secret"] = name}
  end,
  debug = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    notices[#notices + 1] = concat(parts, " ")
  end,
}
local member_names = {}
for k in next, essh_members do member_names[#member_names + 1] = k end
sort(member_names)
G.essh = raw_setmetatable(essh_members, {
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
  local src = file_read(f, "a"); file_close(f)
  return src
end

-- ESSH's built-in libraries (lua_libs/*.lua, handed over by Python), and those refused.
local libs = from_python.libs
local REFUSED = {
  http = "it would reach the network while planning; fetch the data in a task, or save it next to the configuration and read it with fs",
  question = "planning asks nothing: a plan must be the same for the same files; pass answers as task arguments (-- ARGS) or props",
  sh = "planning runs no commands; run them in a task's script",
}
local lib_helpers = from_python.lib_helpers  -- the Python half of re, template, yaml (lua_helpers.py)

-- fs.read: a file read while planning is recorded like a module (its digest goes into the plan).
local function read_recorded(path)
  if type(path) ~= "string" then error("fs.read expects a path (a string)", 3) end
  local f, err = io_open(path, "rb")
  if not f then return nil, err end
  local text = file_read(f, "a"); file_close(f)
  if text then read_by_lua[#read_by_lua + 1] = path end
  return text
end

-- Each built-in library once, out of the configuration's reach (it may edit package.loaded).
local builtins = {}
local function builtin(name)
  if builtins[name] == nil then
    local fn = raw_load(libs[name], "=essh's " .. name .. " library", "t")
    builtins[name] = fn(read_recorded, lib_helpers, name ~= "json" and builtin("json") or nil)
  end
  return builtins[name]
end

G.require = function(name)
  if type(name) ~= "string" then error("require expects a module name (a string)", 2) end
  local value = loaded[name]
  if value ~= nil then return value end
  if REFUSED[name] then
    error(format("the '%s' library is refused: %s", name, REFUSED[name]), 2)
  end
  if libs[name] then
    value = builtin(name)
    loaded[name] = value
    return value
  end
  local path, err = searchpath(name, package.path)
  if not path then
    local tried = {}
    for file in gmatch(err, "no file '([^']*)'") do tried[#tried + 1] = file end
    error(format("module '%s' not found next to the configuration file nor in .essh/lib (looked for %s)",
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

-- import: ESSH's modules (planner/modules.py finds the folder; its index.lua gives the value).
local py_module_folder = from_python.module_folder
local imported, importing = {}, {}  -- folder -> value; the chain of sources being imported

G.import = function(source)
  if type(source) ~= "string" then error("import expects a module source (a string)", 2) end
  -- A relative local folder is relative to the importing module's folder, else to the configuration's.
  local within = importing[#importing]
  local ok, reply = raw_pcall(py_module_folder, source, within and within.folder or "")
  if stopped then error(stopped, 0) end
  if not ok or type(reply) ~= "string" then error("essh: import failed; please report this", 2) end
  -- The position of the configuration's own line (a tail call leaves none to level 2).
  if sub(reply, 1, 1) == "-" then error(configuration_line() .. sub(reply, 2), 0) end
  local folder = sub(reply, 2)
  if imported[folder] ~= nil then return imported[folder] end
  for i, s in ipairs(importing) do
    if s.folder == folder then
      local chain = {}
      for j = i, #importing do chain[#chain + 1] = importing[j].source end
      chain[#chain + 1] = source
      error(configuration_line() .. format("import cycle: %s", concat(chain, " -> ")), 0)
    end
  end
  local path = folder .. "/index.lua"
  local src, rerr = read_module(path)
  if not src then error(configuration_line() .. format("module %s: %s", source, tostring(rerr)), 0) end
  local fn, lerr = raw_load(src, "@" .. path, "t")
  if not fn then error(lerr, 0) end
  importing[#importing + 1] = {source = source, folder = folder}
  local value = fn()
  importing[#importing] = nil
  if value == nil then value = true end
  imported[folder] = value
  return value
end
essh_members.import = G.import

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
  if find(s, '[%c"\\\128-\255]') then
    if find(s, "[\128-\255]") and not utf8_len(s) then n = n + 1; buf[n] = BAD_UTF8; return end
    s = gsub(s, '[%c"\\]', escape)
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

function encode_value(v)
  buf, n = {}, 0
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

-- Every function of the api starts a new call from Python: no stop is pending.

function api.start(src, path, dir)
  stopped = nil
  package.path = dir .. "/?.lua;" .. dir .. "/?/init.lua" .. from_python.lib_path
  local fn, err = raw_load(src, "@" .. path, "t")
  if not fn then return false, err end
  running = watched(co_create(fn))
  return true
end

-- An error value as text; its __tostring runs under the limits like any configuration code.
local function message(err)
  if stopped then return stopped end
  if type(err) == "string" then return err end
  local mt = getmetatable(err)
  if type(mt) == "table" and rawget(mt, "__tostring") then
    local ok, text = raw_pcall(tostring, err)
    if stopped then return stopped end
    if ok and type(text) == "string" then return text end
  end
  return "error object is a " .. type(err) .. " value"
end

function api.resume(reply)
  stopped = nil
  local ok, kind, arg = co_resume(running, reply)
  if not ok then return "error", message(kind) end
  if co_status(running) == "dead" then return "done" end
  return kind, arg
end

-- Where the file being run failed: the innermost Lua line of its coroutine ("" if none).
function api.failed_at()
  stopped = nil
  for level = 0, 20 do
    local info = getinfo(running, level, "Sl")
    if not info then break end
    if info.what ~= "C" and info.currentline > 0 then return format("%s:%d:", info.short_src, info.currentline) end
  end
  return ""
end

-- The stop of the last call, as an error message with its position (nil if none).
function api.stopped()
  return stopped
end

function api.export()
  stopped = nil
  buf, n = {}, 0
  put("{")
  export_kind("host"); put(",")
  export_kind("task"); put(",")
  export_kind("driver"); put(',"notices":')
  encode(notices, 0)
  local reads = {}
  for name in next, secret_reads do reads[#reads + 1] = name end
  sort(reads)
  put(',"secret_reads":')
  encode(reads, 0)
  put(',"ssh_config":'); encode(rawget(essh_members, "ssh_config"), 0)
  put("}")
  return take()
end

-- Paths of the modules Lua read itself, in order.
function api.read_by_lua()
  stopped = nil
  return concat(read_by_lua, "\0")
end

-- Call an exported function with one table argument; the argument (which it
-- may have changed) and the result come back as JSON.
function api.call(id, arg)
  stopped = nil
  local ok, result = raw_xpcall(functions[id], message, arg)
  if not ok then return false, result end
  return true, encode_value(result), encode_value(arg)
end

-- A full collection, under the limits, before Python lets the state go.
function api.close()
  stopped = nil
  collectgarbage()
end

return api
