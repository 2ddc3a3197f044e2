-- ESSH's built-in `template` library (gluatemplate's API): render a Go text/template with values.
-- template.dostring(text [, values]) and template.dofile(path [, values]) return the text,
-- or nil and the error. A file dofile reads is recorded like a required module (its digest
-- goes into the plan). The rendering is essh's own Go template subset (gotemplate.py).
local read_recorded, helpers, json = ...
-- The rendered text may hold gotemplate.MAX_OUTPUT bytes (64 MiB): past that, nil and the error.
local render = helpers.template_render
local sub, byte, type, pcall, error, gsub = string.sub, string.byte, type, pcall, error, string.gsub

local template = {}

-- `name` is the function the configuration called: its errors are raised at that call's line.
local function dostring(name, text, values)
  local data = ""
  if values ~= nil then
    local ok, encoded = pcall(json.encode, values)
    if not ok then error("template." .. name .. ": " .. gsub(encoded, "^json%.encode: ", ""), 3) end
    data = encoded
  end
  local answer = render(text, data)
  if byte(answer, 1) ~= 43 then return nil, sub(answer, 2) end
  return sub(answer, 2)
end

function template.dostring(text, values)
  if type(text) ~= "string" then error("template.dostring expects a template (a string)", 2) end
  local out, err = dostring("dostring", text, values)  -- not a tail call: level 3 is the caller
  if out == nil then return nil, err end
  return out
end

function template.dofile(path, values)
  if type(path) ~= "string" then error("template.dofile expects a path (a string)", 2) end
  local text, why = read_recorded(path)
  if text == nil then return nil, why end
  local out, err = dostring("dofile", text, values)  -- not a tail call: level 3 is the caller
  if out == nil then return nil, err end
  return out
end

return template
