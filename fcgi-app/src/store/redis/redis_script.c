/* The Lua script behind every Redis session operation (its replies are
 * read by redis_script_reply.c). */
#include "redis_script.h"

#include "bounds.h"

#define RS_STR(x) #x
#define RS_XSTR(x) RS_STR(x)

/*
 * The session script. KEYS[1] is the session's hash, named
 * prefix .. '{' .. id:sub(1, SID_TAG_LEN) .. '}' .. id: the hash tag keeps a
 * session and its rotated successor (sid_generate_sibling keeps the tag) in
 * one Redis Cluster slot, so login's RENAME never crosses slots. ARGV[1] is
 * the operation, ARGV[2] the TTL in seconds, ARGV[3] the absolute lifetime
 * in seconds (0: none), ARGV[4] the mode: 's' for one node (single Redis or
 * Sentinel: the script also keeps the per-user index and adopts 0.1 keys),
 * 'c' for a Redis Cluster (the script touches its KEYS only; the store
 * keeps the index with separate commands, store_redis_index.c). The
 * operation's own arguments follow.
 *   touch  ARGV[5] instance, ARGV[6] SERVED_MAX: nil when the key is absent,
 *          else count+1, instance prepended to served, the view (below).
 *   create ARGV[5] instance, ARGV[6] SERVED_MAX: 0 when the key exists,
 *          else count 1, served = instance, the view.
 *   set    ARGV[5] value, ARGV[6] vtime, ARGV[7] "1" to create: 0 when the
 *          key is absent and not created, else 1 (a new hash gets count 0);
 *          in mode 'c' a done set is {1, user whose index is due or ''}
 *          (index_due below).
 *   login  KEYS[1] the old session (KEYS[2] itself when there is none),
 *          KEYS[2] the new one; ARGV[5] user, ARGV[6] USER_SESSIONS_MAX:
 *          {code, previous user or ''}: code 0 when the new key exists
 *          (nothing changed); 1 when a live old session was renamed to the
 *          new key (count, value, cart and born kept); 2 when the new key
 *          was created (count 0). Either way the new session is logged in
 *          as user; in mode 's' the old id also leaves its previous user's
 *          index and the new one joins user's.
 *   logout ARGV[5] "1" for every session of the user: {existed 0/1, ended,
 *          user or ''}. Deletes the session; in mode 's' also takes it out
 *          of its user's index, and with "1" deletes every session in that
 *          index and the index. The store's destroy is logout without "1".
 *   cart   ARGV[5] item name, ARGV[6] delta (+1/-1), ARGV[7] "1" to create,
 *          ARGV[8] CART_LINES_MAX, ARGV[9] CART_QTY_MAX: like set, 1 done,
 *          0 absent and not created, 2 refused by a limit (nothing changed);
 *          in mode 'c' 1 and 2 come as {1 or 2, user or ''}, as for set.
 * Cluster-mode operations on other keys (each one command in that key's slot):
 *   index_add  KEYS[1] a user's index, ARGV[5] session id: adds the id
 *          (scored by Redis TIME in microseconds), keeps the index at least
 *          2 x TTL; returns how many ids it holds (the store trims it to
 *          USER_SESSIONS_MAX, store_redis_index.c).
 *   member_live KEYS[1] a session, ARGV[5] user: 1 when it exists and is
 *          logged in as user, else 0.
 *   index_keep KEYS[1] a user's index: keeps it at least 2 x TTL; 1.
 *   end_member KEYS[1] a session, ARGV[5] user: deletes it when it is
 *          still logged in as user; 1 when deleted, else 0.
 * A view is {count, has_value 0/1, value or '', vtime or '0', served, user
 * or '', cart or '', index_due 0/1}: no nil in the table, since Lua would
 * cut the array at the first hole. index_due is 1 (cluster mode only) when
 * the store should keep the user's index alive (index_keep): at most once
 * per half TTL per session (the hash's itime), so a view stays one command.
 * The index is kept 2 x TTL, so it outlives every session that keeps it.
 * The cart field is "apple=2,milk=1": lines with qty > 0,
 * in the order they were first added (cart_decode does not care); a field
 * cart_decode would call malformed (only possible if something else wrote
 * it) counts as an empty cart here too. Quantities are clamped to
 * CART_QTY_MAX as cart_decode does. The script cannot tell a catalogue item
 * from another name in the field (C checks the item it is given), so such
 * a line would count as a line here and be skipped by cart_decode.
 *
 * Per-user index: a ZSET prefix .. 'user:' .. NAME, member = session id,
 * score = login time in microseconds (Redis TIME: logins within one second
 * keep their order, so the cap ends the oldest). The prefix is read off
 * KEYS[1] (its layout is fixed above) rather than passed. In mode 's' login
 * prunes members whose key is gone and, while the index holds
 * USER_SESSIONS_MAX, ends the oldest (ZPOPMIN + DEL) before adding the new
 * id; logout, destroy and the max-age check below remove their member. The
 * index lives at least as long as any session in it: login, and
 * touch/set/cart of a logged-in session, raise its TTL to the idle TTL.
 * That is a TTL check, not EXPIRE ... GT: GT needs Redis 7 (sessionlab
 * accepts 5) and never puts a TTL on a key that has none, as a fresh index.
 * The index is NOT in the session's hash slot: in mode 's' the script
 * touches a key it was not given, which single-node and Sentinel Redis
 * allow; a Redis Cluster refuses it, hence mode 'c'. In mode 'c' members of
 * ended sessions stay until the cap pops them or a log-out-everywhere reads
 * them (ending an absent session is a no-op).
 *
 * Sessions of versions before the {tag} layout live at prefix .. id: in mode
 * 's' every operation on an id first renames such a key to its new name
 * (adopt_legacy; one EXISTS when the new key is there; a view looks only
 * when its EXPIRE found no key, so the common view pays nothing), so an
 * upgrade keeps them (0.1 had no cluster mode, so mode 'c' has nothing to adopt). Replicas
 * of the old version still running then no longer find a session a new one
 * adopted: a rolling update from 0.1 moves each user once (docs/architecture.md).
 *
 * Every hash records 'born' (Redis's clock, seconds). touch, set, cart,
 * logout and login (for the old key) first delete a session older than the
 * lifetime, which then counts as absent; hashes without 'born' never age
 * (they get it on their next set, cart or login). create only ever sees a fresh
 * id, so it does not look. With a lifetime, the key's TTL is the idle
 * timeout or what is left of the lifetime, whichever is shorter, so Redis
 * drops the key at born + max-age at the latest.
 */
/* One line of Lua per line: clang-format would rewrap it. */
// clang-format off
const char redis_script_body[] =
    "local k, op, ttl, maxage = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local lone = ARGV[4] ~= 'c'\n"
    "local clock, micro\n"
    "local function now()\n"
    "  if not clock then\n"
    "    local t = redis.call('TIME'); clock, micro = tonumber(t[1]), tonumber(t[2])\n"
    "  end\n"
    "  return clock\n"
    "end\n"
    "local function now_us()\n"
    "  return now() * 1000000 + micro\n"
    "end\n"
    "local function raise_ttl(key, secs)\n"
    "  if redis.call('TTL', key) < secs then redis.call('EXPIRE', key, secs) end\n"
    "end\n"
    "if op == 'index_add' then\n"
    "  redis.call('ZADD', k, now_us(), ARGV[5])\n"
    "  raise_ttl(k, 2 * ttl)\n"
    "  return redis.call('ZCARD', k)\n"
    "end\n"
    "if op == 'member_live' then\n"
    "  if redis.call('HGET', k, 'user') == ARGV[5] then return 1 end\n"
    "  return 0\n"
    "end\n"
    "if op == 'index_keep' then\n"
    "  raise_ttl(k, 2 * ttl)\n"
    "  return 1\n"
    "end\n"
    "if op == 'end_member' then\n"
    "  if redis.call('HGET', k, 'user') ~= ARGV[5] then return 0 end\n"
    "  return redis.call('DEL', k)\n"
    "end\n"
    "local prefix, id = string.match(k, '^(.*){%x+}(%x+)$')\n"
    "if not id then return redis.error_reply('sessionlab: key is not prefix{tag}id') end\n"
    "local function skey(sid)\n"
    "  return prefix .. '{' .. string.sub(sid, 1, " RS_XSTR(SID_TAG_LEN) ") .. '}' .. sid\n"
    "end\n"
    "local function index(user)\n"
    "  return prefix .. 'user:' .. user\n"
    "end\n"
    "local function extend(idx)\n"
    "  if lone then raise_ttl(idx, ttl) end\n"
    "end\n"
    "local function keep_index(key)\n"
    "  local user = redis.call('HGET', key, 'user')\n"
    "  if user and user ~= '' then extend(index(user)) end\n"
    "end\n"
    "local function index_due(key, user)\n"
    "  if lone or user == '' then return 0 end\n"
    "  local t = tonumber(redis.call('HGET', key, 'itime'))\n"
    "  if t and now() - t < ttl / 2 then return 0 end\n"
    "  redis.call('HSET', key, 'itime', now())\n"
    "  return 1\n"
    "end\n"
    "local function finish(rc, key)\n"
    "  if lone then keep_index(key); return rc end\n"
    "  local user = redis.call('HGET', key, 'user') or ''\n"
    "  if index_due(key, user) == 1 then return {rc, user} end\n"
    "  return {rc, ''}\n"
    "end\n"
    "local function drop(key, sid)\n"
    "  local user = redis.call('HGET', key, 'user')\n"
    "  redis.call('DEL', key)\n"
    "  if lone and user and user ~= '' then redis.call('ZREM', index(user), sid) end\n"
    "end\n"
    "local function born_if_live(key, sid)\n"
    "  if maxage == 0 then return nil end\n"
    "  local born = tonumber(redis.call('HGET', key, 'born'))\n"
    "  if born and now() - born >= maxage then drop(key, sid); return nil end\n"
    "  return born\n"
    "end\n"
    "local function adopt_legacy(key, sid)\n"
    "  if lone and redis.call('EXISTS', key) == 0 and redis.call('EXISTS', prefix .. sid) == 1 then\n"
    "    redis.call('RENAME', prefix .. sid, key)\n"
    "    return true\n"
    "  end\n"
    "  return false\n"
    "end\n"
    "local function ttl_for(born)\n"
    "  if maxage == 0 or not born then return ttl end\n"
    "  local left = born + maxage - now()\n"
    "  if left < 1 then left = 1 end\n"
    "  if left < ttl then return left end\n"
    "  return ttl\n"
    "end\n"
    "local function created(key)\n"
    "  redis.call('HSETNX', key, 'count', 0)\n"
    "  if redis.call('HSETNX', key, 'born', now()) == 1 then return now() end\n"
    "  return nil\n"
    "end\n"
    "local function cart_read(c, qmax)\n"
    "  local names, qty = {}, {}\n"
    "  if c == '' then return names, qty end\n"
    "  for line in string.gmatch(c .. ',', '([^,]*),') do\n"
    "    local name, q = string.match(line, '^([^=]+)=(%d+)$')\n"
    "    if not name then return {}, {} end\n"
    "    if not qty[name] then names[#names + 1] = name end\n"
    "    qty[name] = math.min(tonumber(q), qmax)\n"
    "  end\n"
    "  return names, qty\n"
    "end\n"
    "if op == 'touch' then\n"
    "  local born = born_if_live(k, id)\n"
    "  if redis.call('EXPIRE', k, ttl_for(born)) == 0 then\n"
    "    if not adopt_legacy(k, id) then return false end\n"
    "    born = born_if_live(k, id)\n"
    "    redis.call('EXPIRE', k, ttl_for(born))\n"
    "  end\n"
    "  local n = redis.call('HINCRBY', k, 'count', 1)\n"
    "  local f = redis.call('HMGET', k, 'value', 'vtime', 'served', 'user', 'cart')\n"
    "  local out, max = {ARGV[5]}, tonumber(ARGV[6])\n"
    "  for e in string.gmatch(f[3] or '', '[^\\n]+') do\n"
    "    if #out >= max then break end; out[#out + 1] = e\n"
    "  end\n"
    "  local served = table.concat(out, '\\n')\n"
    "  redis.call('HSET', k, 'served', served)\n"
    "  local user = f[4] or ''\n"
    "  if user ~= '' then extend(index(user)) end\n"
    "  return {n, f[1] and 1 or 0, f[1] or '', f[2] or '0', served, user, f[5] or '', index_due(k, user)}\n"
    "end\n"
    "if op == 'create' then\n"
    "  if redis.call('EXISTS', k) == 1 then return 0 end\n"
    "  redis.call('HSET', k, 'count', 1, 'served', ARGV[5], 'born', now())\n"
    "  redis.call('EXPIRE', k, ttl_for(now()))\n"
    "  return {1, 0, '', '0', ARGV[5], '', '', 0}\n"
    "end\n"
    "if op == 'set' then\n"
    "  adopt_legacy(k, id)\n"
    "  local born = born_if_live(k, id)\n"
    "  if redis.call('EXISTS', k) == 0 and ARGV[7] ~= '1' then return 0 end\n"
    "  redis.call('HSET', k, 'value', ARGV[5], 'vtime', ARGV[6])\n"
    "  born = created(k) or born\n"
    "  redis.call('EXPIRE', k, ttl_for(born))\n"
    "  return finish(1, k)\n"
    "end\n"
    "if op == 'login' then\n"
    "  local new, user, cap = KEYS[2], ARGV[5], tonumber(ARGV[6])\n"
    "  local nid = string.match(new or '', '}(%x+)$')\n"
    "  if not nid then return redis.error_reply('sessionlab: login needs KEYS[2]') end\n"
    "  if redis.call('EXISTS', new) == 1 then return {0, ''} end\n"
    "  local born, rotated, prev = nil, 0, ''\n"
    "  if k ~= new then\n"
    "    adopt_legacy(k, id)\n"
    "    born = born_if_live(k, id)\n"
    "    if redis.call('EXISTS', k) == 1 then\n"
    "      prev = redis.call('HGET', k, 'user') or ''\n"
    "      redis.call('RENAME', k, new)\n"
    "      if lone and prev ~= '' then redis.call('ZREM', index(prev), id) end\n"
    "      rotated = 1\n"
    "    end\n"
    "  end\n"
    "  born = created(new) or born\n"
    "  redis.call('HSET', new, 'user', user)\n"
    "  redis.call('EXPIRE', new, ttl_for(born))\n"
    "  if not lone then\n"
    "    redis.call('HSET', new, 'itime', now())\n"
    "    return {2 - rotated, prev}\n"
    "  end\n"
    "  local idx = index(user)\n"
    "  for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do\n"
    "    if redis.call('EXISTS', skey(m)) == 0 then redis.call('ZREM', idx, m) end\n"
    "  end\n"
    "  while redis.call('ZCARD', idx) >= cap do\n"
    "    local m = redis.call('ZPOPMIN', idx)[1]\n"
    "    if not m then break end\n"
    "    redis.call('DEL', skey(m))\n"
    "  end\n"
    "  redis.call('ZADD', idx, now_us(), nid)\n"
    "  extend(idx)\n"
    "  return {2 - rotated, prev}\n"
    "end\n"
    "if op == 'logout' then\n"
    "  adopt_legacy(k, id)\n"
    "  born_if_live(k, id)\n"
    "  local user = redis.call('HGET', k, 'user') or ''\n"
    "  local existed = redis.call('DEL', k)\n"
    "  local ended = existed\n"
    "  if lone and user ~= '' then\n"
    "    local idx = index(user)\n"
    "    if ARGV[5] ~= '1' then redis.call('ZREM', idx, id); return {existed, ended, user} end\n"
    "    for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do\n"
    "      local mk = skey(m)\n"
    "      if redis.call('HGET', mk, 'user') == user then ended = ended + redis.call('DEL', mk) end\n"
    "    end\n"
    "    redis.call('DEL', idx)\n"
    "  end\n"
    "  return {existed, ended, user}\n"
    "end\n"
    "if op == 'cart' then\n"
    "  adopt_legacy(k, id)\n"
    "  local born = born_if_live(k, id)\n"
    "  if redis.call('EXISTS', k) == 0 and ARGV[7] ~= '1' then return 0 end\n"
    "  local item, delta = ARGV[5], tonumber(ARGV[6])\n"
    "  local lmax, qmax = tonumber(ARGV[8]), tonumber(ARGV[9])\n"
    "  local names, qty = cart_read(redis.call('HGET', k, 'cart') or '', qmax)\n"
    "  local lines = 0\n"
    "  for _, name in ipairs(names) do\n"
    "    if qty[name] > 0 then lines = lines + 1 end\n"
    "  end\n"
    "  local had = (qty[item] or 0) > 0\n"
    "  local q = math.max((qty[item] or 0) + delta, 0)\n"
    "  if delta > 0 and (q > qmax or (not had and lines >= lmax)) then\n"
    "    redis.call('EXPIRE', k, ttl_for(born)); return finish(2, k)\n"
    "  end\n"
    "  if not qty[item] then names[#names + 1] = item end\n"
    "  qty[item] = q\n"
    "  local out = {}\n"
    "  for _, name in ipairs(names) do\n"
    "    if qty[name] > 0 then out[#out + 1] = name .. '=' .. qty[name] end\n"
    "  end\n"
    "  redis.call('HSET', k, 'cart', table.concat(out, ','))\n"
    "  born = created(k) or born\n"
    "  redis.call('EXPIRE', k, ttl_for(born))\n"
    "  return finish(1, k)\n"
    "end\n"
    "return redis.error_reply('sessionlab: unknown operation')\n";
// clang-format on
