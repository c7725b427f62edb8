/*
 * redistls.h - rediss://: Redis over TLS for a hiredis without TLS.
 *
 * Debian 12's hiredis (0.14) speaks to a plain socket only. For rediss://
 * ssprd connects over TCP itself, makes the TLS handshake with GnuTLS (the
 * TLS library libldap already loads), verifying the server's certificate
 * against [state] redis_ca_file (or the system's store) and the host name,
 * and gives hiredis one end of a socket pair; a thread of its own moves
 * the bytes between that pair and the TLS session. Nothing in clear leaves
 * the process. The thread ends, and closes everything, when hiredis closes
 * its end (redisFree()) or the server's side fails: hiredis then reads an
 * end of file, as from a plain server that went away.
 */
#ifndef SSPRD_REDISTLS_H
#define SSPRD_REDISTLS_H

#include <stddef.h>

/*
 * Connect to host:port within timeout_ms and make the TLS handshake,
 * verified against ca_file (NULL: the system's trust store) and host. The
 * plain end of the tunnel for hiredis (redisConnectFd()), or -1 with err
 * filled.
 */
int redistls_open(const char *host, unsigned port, const char *ca_file,
    unsigned timeout_ms, char *err, size_t errlen);

#endif
