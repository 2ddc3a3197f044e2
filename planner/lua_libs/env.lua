-- ESSH's built-in `env` library (gluaenv's API), read-only while planning:
-- env.get(name) reads this process's environment. env.set and env.loadfile would
-- change the environment essh runs in, which a plan must not depend on.
local env = {}
local getenv, error = os.getenv, error
function env.get(name) return getenv(name) end
local function refused(name)
  return function()
    error("env." .. name .. " is not available: a plan must not change essh's environment;"
          .. " set a task's env = { ... } instead", 2)
  end
end
env.set, env.unset, env.loadfile = refused("set"), refused("unset"), refused("loadfile")
return env
