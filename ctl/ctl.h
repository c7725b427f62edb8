/*
 * ctl.h - what the files of ssprctl share.
 */
#ifndef SSPRD_CTL_H
#define SSPRD_CTL_H

#include "config/config.h"

/* submit.c: drop the JSON request on stdin into the spool as a front end
 * would, wait for its answer, print it. Exit status: 0 ok answer, 1 error
 * answer, 3 no answer in time, 2 bad input. */
int ctl_submit(const struct config *cfg, const char *id, unsigned wait);

/* status.c: a summary of ssprd's metrics endpoint. 0 when it answered. */
int ctl_status(const struct config *cfg);

#endif
