-- Runs a health.lua the way Argo CD does: a global `obj`, the chunk's return value is the health.
-- Usage: lua5.1 run.lua health.lua < object.lua   (object.lua: `return <table literal>`)
local object = assert(loadstring(io.read("*a"), "object"))()
local check = assert(loadfile(arg[1]))
-- Only what Argo CD's Lua VM offers health checks: no io, os or require.
setfenv(check, {
  obj = object,
  ipairs = ipairs,
  pairs = pairs,
  next = next,
  type = type,
  tostring = tostring,
  tonumber = tonumber,
  error = error,
  pcall = pcall,
  select = select,
  unpack = unpack,
  string = string,
  table = table,
  math = math,
})
local hs = check()
io.write(tostring(hs.status), "\n", tostring(hs.message or ""))
