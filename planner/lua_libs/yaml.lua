-- ESSH's built-in `yaml` library (gluayaml's API): yaml.parse(text) returns a table (or nil and
-- the error); yaml.dump(value) (essh's addition) returns YAML text with sorted keys.
-- PyYAML's safe_load/safe_dump (lua_helpers.py): plain data only, through JSON.
local _, helpers, json = ...
local parse, dump = helpers.yaml_parse, helpers.yaml_dump
local sub, byte, type = string.sub, string.byte, type

local yaml = {}

function yaml.parse(text)
  if type(text) ~= "string" then error("yaml.parse expects YAML text (a string)", 2) end
  local answer = parse(text)
  if byte(answer, 1) ~= 43 then return nil, "yaml.parse: " .. sub(answer, 2) end
  return json.decode(sub(answer, 2))
end

function yaml.dump(value)
  local answer = dump(json.encode(value))
  if byte(answer, 1) ~= 43 then error("yaml.dump: " .. sub(answer, 2), 2) end
  return sub(answer, 2)
end

return yaml
