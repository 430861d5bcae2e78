/*
 * tls.h — GnuTLS as a transport under lib/io. The only module that
 * includes GnuTLS. Server credentials are read afresh for every connection,
 * so a renewed certificate takes effect at once (S18; deploy with rename).
 *
 * GnuTLS's default transport uses recv/send, which fail on pipes: this
 * module installs push/pull functions using read(io->fd_in) and
 * write(io->fd_out), so sessions work on sockets and on pipes alike.
 */
#ifndef YUBIN_TLS_H
#define YUBIN_TLS_H

#include <stddef.h>

#include "conf.h"
#include "io.h"

struct tls;

/* 1 if tls_cert and tls_key are configured (STARTTLS/STLS is offered). */
int tls_configured(const struct conf *conf);

/* Optional: reads tls_cert and tls_key into memory now, so a session
 * started as root can read a key only root may read (certbot's privkey.pem
 * is 0600 root) before it drops to run_as; tls_server_new then uses these
 * bytes instead of opening the files. Each process is one connection, so a
 * renewed certificate is still picked up by the next one. Returns 0 (also
 * when TLS is not configured), or -1 with a reason in err: not fatal, the
 * later tls_server_new reads the files itself and reports. */
int tls_server_preload(const struct conf *conf, char *err, size_t errsize);

/* Loads the certificate chain, key and priority string for a server
 * session. Returns NULL with a reason in err if they cannot be loaded (the
 * caller then answers 454 4.7.0 / -ERR / NO before any go-ahead). */
struct tls *tls_server_new(const struct conf *conf, char *err, size_t errsize);

/* A client session for relay-runner: server_name for SNI and, when verify
 * is set, checked against the system trust store (or ca_file if not NULL). */
struct tls *tls_client_new(const char *server_name, int verify, const char *ca_file,
    const char *priority, char *err, size_t errsize);

/* Discards every byte buffered in io (no plaintext survives into TLS,
 * S10/S12/S13/S56), runs the handshake on io's fds with a deadline of
 * TLS_HANDSHAKE_TIMEOUT_SEC, and on success installs TLS as io's transport.
 * Returns 0, or -1 with a reason in err (the caller then ends the session). */
int tls_handshake(struct tls *tls, struct io *io, char *err, size_t errsize);

/* Overrides the handshake deadline (default tls_handshake_timeout from the
 * configuration for servers, TLS_HANDSHAKE_TIMEOUT_SEC for clients). */
void tls_set_handshake_timeout(struct tls *tls, int seconds);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" style text for
 * Received: headers and logs. Valid until tls_free. */
const char *tls_describe(const struct tls *tls);

/* Flushes io's pending output, sends close_notify (best effort), frees,
 * sets *tls to NULL. io is left with a transport that reports EOF: it never
 * goes back to plaintext (S16). On handshake failure the same holds. */
void tls_free(struct tls **tls);

#endif
