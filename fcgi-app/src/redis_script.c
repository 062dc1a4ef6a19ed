/* The Lua script behind every Redis session operation, and its replies. */
#include "redis_script.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The session script. KEYS[1] is the hash; ARGV[1] the operation, ARGV[2]
 * the TTL in seconds, ARGV[3] the absolute lifetime in seconds (0: none).
 *   touch  ARGV[4] instance, ARGV[5] SERVED_MAX: nil when the key is absent,
 *          else count+1, instance prepended to served, the view (below).
 *   create ARGV[4] instance, ARGV[5] SERVED_MAX: 0 when the key exists,
 *          else count 1, served = instance, the view.
 *   set    ARGV[4] value, ARGV[5] vtime, ARGV[6] "1" to create: 0 when the
 *          key is absent and not created, else 1 (a new hash gets count 0).
 * A view is {count, has_value 0/1, value or '', vtime or '0', served}: no
 * nil in the table, since Lua would cut the array at the first hole.
 * Every hash records 'born' (Redis's clock, seconds). touch and set first
 * delete a session older than the lifetime, which then counts as absent;
 * hashes without 'born' never age (they get it on their next set). create
 * only ever sees a fresh id, so it does not look. With a lifetime, the
 * key's TTL is the idle timeout or what is left of the lifetime, whichever
 * is shorter, so Redis drops the key at born + max-age at the latest.
 */
const char redis_script_body[] =
    "local k, op, ttl, maxage = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local clock\n"
    "local function now()\n"
    "  if not clock then clock = tonumber(redis.call('TIME')[1]) end\n"
    "  return clock\n"
    "end\n"
    "local function born_if_live()\n"
    "  if maxage == 0 then return nil end\n"
    "  local born = tonumber(redis.call('HGET', k, 'born'))\n"
    "  if born and now() - born >= maxage then redis.call('DEL', k); return nil end\n"
    "  return born\n"
    "end\n"
    "local function ttl_for(born)\n"
    "  if maxage == 0 or not born then return ttl end\n"
    "  local left = born + maxage - now()\n"
    "  if left < 1 then left = 1 end\n"
    "  if left < ttl then return left end\n"
    "  return ttl\n"
    "end\n"
    "if op == 'touch' then\n"
    "  local born = born_if_live()\n"
    "  if redis.call('EXPIRE', k, ttl_for(born)) == 0 then return false end\n"
    "  local n = redis.call('HINCRBY', k, 'count', 1)\n"
    "  local f = redis.call('HMGET', k, 'value', 'vtime', 'served')\n"
    "  local out, max = {ARGV[4]}, tonumber(ARGV[5])\n"
    "  for e in string.gmatch(f[3] or '', '[^\\n]+') do\n"
    "    if #out >= max then break end; out[#out + 1] = e\n"
    "  end\n"
    "  local served = table.concat(out, '\\n')\n"
    "  redis.call('HSET', k, 'served', served)\n"
    "  return {n, f[1] and 1 or 0, f[1] or '', f[2] or '0', served}\n"
    "end\n"
    "if op == 'create' then\n"
    "  if redis.call('EXISTS', k) == 1 then return 0 end\n"
    "  redis.call('HSET', k, 'count', 1, 'served', ARGV[4], 'born', now())\n"
    "  redis.call('EXPIRE', k, ttl_for(now()))\n"
    "  return {1, 0, '', '0', ARGV[4]}\n"
    "elseif op == 'set' then\n"
    "  local born = born_if_live()\n"
    "  if redis.call('EXISTS', k) == 0 and ARGV[6] ~= '1' then return 0 end\n"
    "  redis.call('HSET', k, 'value', ARGV[4], 'vtime', ARGV[5])\n"
    "  redis.call('HSETNX', k, 'count', 0)\n"
    "  if redis.call('HSETNX', k, 'born', now()) == 1 then born = now() end\n"
    "  redis.call('EXPIRE', k, ttl_for(born))\n"
    "  return 1\n"
    "end\n"
    "return redis.error_reply('sessionlab: unknown operation')\n";

/* Parses a string reply holding a decimal integer. 0 or -1. */
static int reply_ll(const redisReply *r, long long *out)
{
    char buf[32];
    char *end;
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= sizeof buf)
        return -1;
    memcpy(buf, r->str, r->len);
    buf[r->len] = '\0';
    errno = 0;
    *out = strtoll(buf, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

/*
 * Splits served ("a\nb\n...") into out->served_by: empty entries skipped,
 * each name cut to INSTANCE_MAX bytes, at most SERVED_MAX names kept.
 */
static void parse_served(const char *s, size_t len, struct session *out)
{
    size_t i = 0;
    out->served_n = 0;
    while (i < len && out->served_n < SERVED_MAX) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t n = nl != NULL ? (size_t)(nl - (s + i)) : len - i;
        if (n > 0) {
            size_t k = n > INSTANCE_MAX ? INSTANCE_MAX : n;
            memcpy(out->served_by[out->served_n], s + i, k);
            out->served_by[out->served_n++][k] = '\0';
        }
        i += n + 1;
    }
}

/*
 * Fills *out from a script view {count, has_value, value, vtime, served}.
 * Nothing in the reply is trusted: types and the element count are checked
 * and every copy is bounded. A stored value longer than VALUE_MAX (only
 * possible if something else wrote the hash) is truncated to VALUE_MAX so
 * the page still renders. 0, or -1 when the reply has another shape.
 */
int redis_script_view(const redisReply *r, const char *id, struct session *out)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 5)
        return -1;
    redisReply **e = r->element;
    if (e[0]->type != REDIS_REPLY_INTEGER || e[1]->type != REDIS_REPLY_INTEGER ||
        e[2]->type != REDIS_REPLY_STRING || e[4]->type != REDIS_REPLY_STRING ||
        reply_ll(e[3], &out->value_time) != 0)
        return -1;
    snprintf(out->id, sizeof out->id, "%s", id);
    out->count = e[0]->integer;
    out->has_value = e[1]->integer != 0;
    out->value_len = e[2]->len > VALUE_MAX ? VALUE_MAX : e[2]->len;
    memcpy(out->value, e[2]->str, out->value_len);
    out->value[out->value_len] = '\0';
    parse_served(e[4]->str, e[4]->len, out);
    return 0;
}

