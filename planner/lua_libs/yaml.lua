-- ESSH's built-in `yaml` library (gluayaml's API): yaml.parse(text) returns a table (or nil and
-- the error); yaml.dump(value) (essh's addition) returns YAML text with sorted keys.
-- PyYAML's safe_load/safe_dump (lua_helpers.py): plain data only, through JSON.
local _, helpers, json = ...
local parse, dump = helpers.yaml_parse, helpers.yaml_dump
-- A document past the limits of lua_helpers.py (values and text, aliases expanded) is an error
-- raised at the caller's line, not a nil: that work is outside the Lua memory cap.
local sub, byte, type, pcall, error, gsub = string.sub, string.byte, type, pcall, error, string.gsub

local yaml = {}

function yaml.parse(text)
  if type(text) ~= "string" then error("yaml.parse expects YAML text (a string)", 2) end
  local answer = parse(text)
  local mark = byte(answer, 1)
  if mark == 33 then error("yaml.parse: " .. sub(answer, 2), 2) end  -- "!": a limit
  if mark ~= 43 then return nil, "yaml.parse: " .. sub(answer, 2) end
  return json.decode(sub(answer, 2))
end

function yaml.dump(value)
  local ok, data = pcall(json.encode, value)  -- its error blamed on the caller's line, not this file's
  if not ok then error("yaml.dump: " .. gsub(data, "^json%.encode: ", ""), 2) end
  local answer = dump(data)
  if byte(answer, 1) ~= 43 then error("yaml.dump: " .. sub(answer, 2), 2) end
  return sub(answer, 2)
end

return yaml
