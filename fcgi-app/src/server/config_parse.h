/*
 * The value checks the settings table (config.c) shares, and the settings
 * whose check is their own (its SETTING_FUNC rows). Internal to server/:
 * other modules include config.h.
 */
#ifndef SESSIONLAB_CONFIG_PARSE_H
#define SESSIONLAB_CONFIG_PARSE_H

#include <stddef.h>

#include "config.h"

/* A whole number of decimal digits only, lo..hi, in *out. 0, or -1. */
int config_parse_long(const char *val, long lo, long hi, long *out);
/* Copies 1..cap-1 bytes of val into dst. 0, or -1 (empty or too long). */
int config_copy_str(char *dst, size_t cap, const char *val);

/* SETTING_FUNC parsers: each checks val, stores it into cfg and returns 0,
 * or writes why into why (len bytes) and returns -1. */
int config_set_listen(struct config *cfg, const char *val, char *why, size_t len);
int config_set_store(struct config *cfg, const char *val, char *why, size_t len);
int config_set_redis_url(struct config *cfg, const char *val, char *why, size_t len);

#endif
