/*
 * ctl.h - what the files of ssprctl share.
 */
#ifndef SSPRD_CTL_H
#define SSPRD_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

/* submit.c: drop the JSON request on stdin into the spool as a front end
 * would, wait for its answer, print it. Exit status: 0 ok answer, 1 error
 * answer, 3 no answer in time, 2 bad input. */
int ctl_submit(const struct config *cfg, const char *id, unsigned wait);

/* status.c: a summary of ssprd's metrics endpoint. 0 when it answered. */
int ctl_status(const struct config *cfg);

/* report.c: who has registered which method, among the users in scope,
 * and the administrators below admin_methods_required; text, or one JSON
 * object. page_size 0: the default. Call dir_init() first. 0 when the
 * directory was read, 1 when not (the reason on stderr). */
int ctl_report(const struct config *cfg, bool json, unsigned page_size);

/* breach.c: INPUT ("-": stdin) in the Pwned Passwords download format
 * into the index at OUTPUT; lines counted below min_count left out. 0 when
 * written, 1 when not (the reason, with the line, on stderr). */
int ctl_breach_import(const char *input, const char *output,
    uint64_t min_count);

#endif
