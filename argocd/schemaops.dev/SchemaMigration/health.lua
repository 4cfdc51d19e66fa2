-- Argo CD health for schemaops.dev/SchemaMigration, from kstatus conditions (Ready, Reconciling, Stalled).
local hs = {}

local function condition(conditionType)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

local function messageOf(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local function health(status, message)
  hs.status = status
  hs.message = message
  return hs
end

local spec = obj.spec or {}
local status = obj.status
local metadata = obj.metadata or {}

-- Being deleted: the finalizer gives the workload its replicas back first, whatever the conditions say.
if metadata.deletionTimestamp ~= nil then
  local message = "Pending deletion"
  if metadata.finalizers ~= nil and #metadata.finalizers > 0 then
    message = "Pending deletion; waiting for finalizers: " .. table.concat(metadata.finalizers, ", ")
  end
  local reconciling = condition("Reconciling")
  if isTrue(reconciling) then
    message = messageOf(reconciling, message)
  end
  return health("Progressing", message)
end

if spec.suspend == true then
  return health("Suspended", "spec.suspend is true: nothing is done until it is false")
end

if status == nil then
  return health("Progressing", "Waiting for the operator to report status")
end

local generation = metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  return health("Progressing", "Waiting for the operator to observe generation " .. tostring(generation))
end

local stalled = condition("Stalled")
if isTrue(stalled) then
  return health("Degraded", messageOf(stalled, stalled.reason or "Stalled"))
end

if status.phase == "Suspended" then
  return health("Suspended", messageOf(condition("Ready"), "Suspended"))
end

local reconciling = condition("Reconciling")
if status.phase == "AwaitingApproval" or (isTrue(reconciling) and reconciling.reason == "AwaitingApproval") then
  local hash = "its hash"
  if status.plan ~= nil and status.plan.hash ~= nil then
    hash = status.plan.hash
  end
  return health("Suspended", "Awaiting approval: annotate with schemaops.dev/approve=" .. hash)
end

if isTrue(reconciling) then
  return health("Progressing", messageOf(reconciling, "Reconciling"))
end

local ready = condition("Ready")
if isTrue(ready) then
  local revision = status.currentRevision or spec.targetRevision
  return health("Healthy", messageOf(ready, "At revision " .. tostring(revision)))
end

return health("Progressing", messageOf(ready, "Waiting for Ready"))
