/**
 * The catalog's Lua scripts. Keys (all with the deployment's hash tag, KEYS[1] = `{P}:`):
 *
 *   {P}:catalog:<kind>:<name>   hash: createdAtMs, updatedAtMs, doc (JSON)
 *   {P}:catalog-index:<kind>    zset name → createdAtMs: the kind's names, oldest first, then by name
 *
 * A resource and its index entry change in one script, so `list` never sees one without the other.
 */
import { luaScript } from '../../queue/index.js';

const COMMON = `local p = KEYS[1]
local kind, name = ARGV[1], ARGV[2]
local key = p .. 'catalog:' .. kind .. ':' .. name
`;

/** ARGV: kind, name, nowMs, doc. Returns 1 when created, 0 when the name is taken. */
export const CREATE = luaScript('catalogCreate', `${COMMON}
if redis.call('EXISTS', key) == 1 then return 0 end
redis.call('HSET', key, 'createdAtMs', ARGV[3], 'updatedAtMs', ARGV[3], 'doc', ARGV[4])
redis.call('ZADD', p .. 'catalog-index:' .. kind, ARGV[3], name)
return 1
`);

/** ARGV: kind, name, nowMs, doc. Returns 1 when replaced, 0 when there is no such resource. */
export const UPDATE = luaScript('catalogUpdate', `${COMMON}
if redis.call('EXISTS', key) == 0 then return 0 end
redis.call('HSET', key, 'updatedAtMs', ARGV[3], 'doc', ARGV[4])
return 1
`);

/** ARGV: kind, name. Returns 1 when deleted. */
export const DELETE = luaScript('catalogDelete', `${COMMON}
redis.call('ZREM', p .. 'catalog-index:' .. kind, name)
return redis.call('DEL', key)
`);

/** ARGV: kind. Returns name, createdAtMs, updatedAtMs, doc for each resource, in index order. */
export const LIST = luaScript('catalogList', `local p = KEYS[1]
local kind = ARGV[1]
local out = {}
for _, name in ipairs(redis.call('ZRANGE', p .. 'catalog-index:' .. kind, 0, -1)) do
  local v = redis.call('HMGET', p .. 'catalog:' .. kind .. ':' .. name, 'createdAtMs', 'updatedAtMs', 'doc')
  if v[3] then
    out[#out + 1] = name
    out[#out + 1] = v[1]
    out[#out + 1] = v[2]
    out[#out + 1] = v[3]
  end
end
return out
`);

export const CATALOG_SCRIPTS = [CREATE, UPDATE, DELETE, LIST];
