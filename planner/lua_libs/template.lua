-- ESSH's built-in `template` library (gluatemplate's API): render a Go text/template with values.
-- template.dostring(text [, values]) and template.dofile(path [, values]) return the text,
-- or nil and the error. A file dofile reads is recorded like a required module (its digest
-- goes into the plan). The rendering is essh's own Go template subset (gotemplate.py).
local read_recorded, helpers, json = ...
local render = helpers.template_render
local sub, byte, type = string.sub, string.byte, type

local template = {}

function template.dostring(text, values)
  if type(text) ~= "string" then error("template.dostring expects a template (a string)", 2) end
  local data = ""
  if values ~= nil then data = json.encode(values) end
  local answer = render(text, data)
  if byte(answer, 1) ~= 43 then return nil, sub(answer, 2) end
  return sub(answer, 2)
end

function template.dofile(path, values)
  if type(path) ~= "string" then error("template.dofile expects a path (a string)", 2) end
  local text, err = read_recorded(path)
  if text == nil then return nil, err end
  return template.dostring(text, values)
end

return template
