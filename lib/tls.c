/*
 * tls.c — GnuTLS as a transport under lib/io (with dkim.c and digest.c, the
 * only files that call GnuTLS, through tlslib: it is loaded on first use).
 *
 * Transport: GnuTLS's default push/pull call send/recv, which fail with
 * ENOTSOCK on the pipes tests use, so we install our own: pull polls fd_in
 * and read()s, push poll()s fd_out and write()s (send with MSG_NOSIGNAL when
 * fd_out is a socket, so a vanished peer is an error and not SIGPIPE).
 *
 * Deadlines: during the handshake every wait is capped by one absolute
 * deadline (S17), so a client that trickles a byte a second cannot stretch
 * it; afterwards each wait uses io's timeout.
 *
 * End of TLS: close_notify and a TCP close without it both count as EOF and
 * are sticky; after EOF or a fatal error the transport never reads again and
 * io is never handed back to the plaintext path (S16). tls_free leaves a
 * dead transport in io for the same reason.
 *
 * Credentials are loaded per connection, so a renewed certificate is used by
 * the next connection without a restart (S18). Deploy certificates with
 * rename(2): a half-written file gives a clean error (454), not a crash.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounds.h"
#include "tlslib.h"

/* A certificate chain or key file larger than this is not one (bounds
 * every read; real chains are a few KiB). */
#define TLS_PEM_FILE_MAX (1024 * 1024)
/* Sending close_notify at the end should not hold a process that long. */
#define TLS_BYE_TIMEOUT_MS 2000

struct tls {
	gnutls_session_t session;
	gnutls_certificate_credentials_t cred;
	struct io *io;
	struct io_transport transport;
	int handshake_ms;     /* handshake deadline, relative */
	int64_t deadline;     /* absolute (CLOCK_MONOTONIC ms), 0: use io timeout */
	int timed_out;        /* the last wait ran out of time */
	int established;      /* handshake finished */
	int eof;              /* close_notify or peer close seen: sticky */
	int failed;           /* fatal TLS error: sticky */
	char describe[160];
};

static int64_t
tls_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds the next wait may take: the handshake deadline if one is
 * set, else io's per-wait timeout and deadline (-1: none). */
static int
tls_wait_ms(const struct tls *t, int want_ms)
{
	int ms = t->io ? io_wait_ms(t->io) : -1;
	if (want_ms >= 0 && (ms < 0 || want_ms < ms))
		ms = want_ms;
	if (t->deadline > 0) {
		int64_t left = t->deadline - tls_now_ms();
		if (left < 0)
			left = 0;
		if (ms < 0 || left < ms)
			ms = (int)left;
	}
	return ms;
}

/* Returns 1 when fd is ready, 0 on timeout (errno ETIMEDOUT), -1 on error. */
static int
tls_poll(struct tls *t, int fd, short events, int want_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	for (;;) {
		int n = poll(&pfd, 1, tls_wait_ms(t, want_ms));
		if (n > 0)
			return 1;
		if (n == 0) {
			t->timed_out = 1;
			errno = ETIMEDOUT;
			return 0;
		}
		if (errno != EINTR)
			return -1;
	}
}

static ssize_t
tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct tls *t = ptr;
	if (tls_poll(t, t->io->fd_in, POLLIN, -1) <= 0) {
		gnutls_transport_set_errno(t->session, errno);
		return -1;
	}
	ssize_t n;
	do
		n = read(t->io->fd_in, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		gnutls_transport_set_errno(t->session, errno);
	return n;
}

/* GnuTLS asks this before a pull when it enforces its own timeouts. */
static int
tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	struct tls *t = ptr;
	int want = ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (ms > INT32_MAX ? INT32_MAX : (int)ms);
	int r = tls_poll(t, t->io->fd_in, POLLIN, want);
	if (r < 0)
		gnutls_transport_set_errno(t->session, errno);
	return r;
}

static ssize_t
tls_write_fd(int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
	if (n < 0 && errno == ENOTSOCK)
		n = write(fd, buf, len);
	return n;
}

/* Writes all of buf: GnuTLS then never sees a short write. */
static ssize_t
tls_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
	struct tls *t = ptr;
	const unsigned char *p = buf;
	size_t done = 0;
	while (done < len) {
		if (tls_poll(t, t->io->fd_out, POLLOUT, -1) <= 0)
			goto fail;
		ssize_t n = tls_write_fd(t->io->fd_out, p + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	return (ssize_t)len;
fail:
	if (errno == 0)
		errno = EIO;
	gnutls_transport_set_errno(t->session, errno);
	return -1;
}

/* io transport: one read of decrypted application data. */
static ssize_t
tls_recv(void *ctx, void *buf, size_t len)
{
	struct tls *t = ctx;
	if (t->eof)
		return 0;
	if (t->failed) {
		errno = EPROTO;
		return -1;
	}
	for (;;) {
		t->timed_out = 0;
		ssize_t n = gnutls_record_recv(t->session, buf, len);
		if (n > 0)
			return n;
		if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
			t->eof = 1;
			return 0;
		}
		if (t->timed_out) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (n == GNUTLS_E_REHANDSHAKE) {
			/* A TLS 1.2 client asking to renegotiate: refuse, go on. */
			gnutls_alert_send(t->session, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
			continue;
		}
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal((int)n))
			continue;
		t->failed = 1;
		errno = EPROTO;
		return -1;
	}
}

static ssize_t
tls_send(void *ctx, const void *buf, size_t len)
{
	struct tls *t = ctx;
	if (t->failed) {
		errno = EPIPE;
		return -1;
	}
	for (;;) {
		t->timed_out = 0;
		ssize_t n = gnutls_record_send(t->session, buf, len);
		if (n >= 0)
			return n;
		if (!t->timed_out && (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED))
			continue;
		t->failed = 1;
		errno = t->timed_out ? ETIMEDOUT : EPIPE;
		return -1;
	}
}

static size_t
tls_pending(void *ctx)
{
	struct tls *t = ctx;
	if (t->eof || t->failed)
		return 1; /* let io call recv at once: it answers EOF/error */
	return gnutls_record_check_pending(t->session);
}

/* What io is left with after tls_free: never the plaintext path (S16). */
static ssize_t
tls_dead_recv(void *ctx, void *buf, size_t len)
{
	return 0;
}

static ssize_t
tls_dead_send(void *ctx, const void *buf, size_t len)
{
	errno = EPIPE;
	return -1;
}

static size_t
tls_dead_pending(void *ctx)
{
	return 1;
}

static const struct io_transport tls_dead_transport = {
	.recv = tls_dead_recv,
	.send = tls_dead_send,
	.pending = tls_dead_pending,
	.ctx = NULL,
};

int
tls_configured(const struct conf *conf)
{
	return conf->tls_cert && *conf->tls_cert && conf->tls_key && *conf->tls_key;
}

static struct tls *
tls_alloc(char *err, size_t errsize)
{
	struct tls *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	t->handshake_ms = TLS_HANDSHAKE_TIMEOUT_SEC * 1000;
	t->transport.recv = tls_recv;
	t->transport.send = tls_send;
	t->transport.pending = tls_pending;
	t->transport.ctx = t;
	return t;
}

/* Creates the session with credentials and priority already loaded. */
static int
tls_session_init(struct tls *t, unsigned flags, const char *priority, char *err, size_t errsize)
{
	int r = gnutls_init(&t->session, flags);
	if (r < 0) {
		snprintf(err, errsize, "TLS init: %s", gnutls_strerror(r));
		return -1;
	}
	const char *errpos = NULL;
	r = priority ? gnutls_priority_set_direct(t->session, priority, &errpos) :
	    gnutls_set_default_priority(t->session);
	if (r < 0) {
		snprintf(err, errsize, "bad tls_priority near '%.40s': %s",
		    errpos ? errpos : "", gnutls_strerror(r));
		return -1;
	}
	r = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE, t->cred);
	if (r < 0) {
		snprintf(err, errsize, "TLS credentials: %s", gnutls_strerror(r));
		return -1;
	}
	gnutls_transport_set_ptr(t->session, t);
	gnutls_transport_set_pull_function(t->session, tls_pull);
	gnutls_transport_set_pull_timeout_function(t->session, tls_pull_timeout);
	gnutls_transport_set_push_function(t->session, tls_push);
	return 0;
}

static void
tls_destroy(struct tls *t)
{
	if (!t)
		return;
	if (t->session)
		gnutls_deinit(t->session);
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	free(t);
}

/* Reads a whole PEM file, at most TLS_PEM_FILE_MAX bytes. Returns 0, or -1
 * with errno. The caller wipes and frees out->data. */
static int
tls_read_file(const char *path, gnutls_datum_t *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	struct stat st;
	int e = 0;
	if (fstat(fd, &st) < 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EINVAL;
	else if (st.st_size > TLS_PEM_FILE_MAX)
		e = EFBIG;
	if (e) {
		close(fd);
		errno = e;
		return -1;
	}
	size_t size = (size_t)st.st_size, len = 0;
	unsigned char *buf = malloc(size + 1);
	while (buf && len < size) {
		ssize_t n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	buf[len] = '\0';
	out->data = buf;
	out->size = (unsigned)len;
	return 0;
}

static void
tls_wipe_datum(gnutls_datum_t *d)
{
	if (d->data) {
		explicit_bzero(d->data, d->size);
		free(d->data);
	}
	d->data = NULL;
}

/* Certificate and key read by tls_server_preload while still root. */
static struct {
	gnutls_datum_t cert, key;
	int loaded;
} tls_preloaded;

static void
tls_preload_clear(void)
{
	tls_wipe_datum(&tls_preloaded.cert);
	tls_wipe_datum(&tls_preloaded.key);
	tls_preloaded.loaded = 0;
}

int
tls_server_preload(const struct conf *conf, char *err, size_t errsize)
{
	tls_preload_clear();
	if (!tls_configured(conf))
		return 0;
	if (tls_read_file(conf->tls_cert, &tls_preloaded.cert) < 0) {
		snprintf(err, errsize, "cannot read %s: %s", conf->tls_cert, strerror(errno));
		return -1;
	}
	if (tls_read_file(conf->tls_key, &tls_preloaded.key) < 0) {
		snprintf(err, errsize, "cannot read %s: %s", conf->tls_key, strerror(errno));
		tls_preload_clear();
		return -1;
	}
	tls_preloaded.loaded = 1;
	return 0;
}

static int
tls_copy_datum(const gnutls_datum_t *from, gnutls_datum_t *to)
{
	to->data = malloc(from->size + 1);
	if (!to->data)
		return -1;
	memcpy(to->data, from->data, from->size);
	to->data[from->size] = '\0';
	to->size = from->size;
	return 0;
}

/* The preloaded files if any, else reads them now. The caller wipes and
 * frees both. Returns 0, or -1 with a reason in err. */
static int
tls_fetch_files(const char *cert_path, const char *key_path, gnutls_datum_t *cert,
    gnutls_datum_t *key, char *err, size_t errsize)
{
	if (tls_preloaded.loaded) {
		if (tls_copy_datum(&tls_preloaded.cert, cert) < 0 ||
		    tls_copy_datum(&tls_preloaded.key, key) < 0) {
			snprintf(err, errsize, "out of memory");
			return -1;
		}
		return 0;
	}
	if (tls_read_file(cert_path, cert) < 0) {
		snprintf(err, errsize, "cannot read %s: %s", cert_path, strerror(errno));
		return -1;
	}
	if (tls_read_file(key_path, key) < 0) {
		snprintf(err, errsize, "cannot read %s: %s", key_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Parses the chain and the key ourselves rather than with
 * gnutls_certificate_set_x509_key_file2, whose error path for a truncated
 * chain leaks (GnuTLS 3.7), and so every file read is bounded. GnuTLS then
 * checks that the key matches the first certificate. */
static int
tls_load_keypair(struct tls *t, const char *cert_path, const char *key_path,
    char *err, size_t errsize)
{
	gnutls_datum_t cert = { NULL, 0 }, key = { NULL, 0 };
	gnutls_x509_crt_t *crts = NULL;
	unsigned n_crts = 0;
	gnutls_x509_privkey_t pkey = NULL;
	int r = -1;
	if (tls_fetch_files(cert_path, key_path, &cert, &key, err, errsize) < 0)
		goto out;
	r = gnutls_x509_crt_list_import2(&crts, &n_crts, &cert, GNUTLS_X509_FMT_PEM, 0);
	if (r < 0 || n_crts == 0) {
		snprintf(err, errsize, "tls_cert %s: %s", cert_path,
		    r < 0 ? gnutls_strerror(r) : "no certificate");
		r = -1;
		goto out;
	}
	if ((r = gnutls_x509_privkey_init(&pkey)) < 0 ||
	    (r = gnutls_x509_privkey_import2(pkey, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		snprintf(err, errsize, "tls_key %s: %s", key_path, gnutls_strerror(r));
		goto out;
	}
	r = gnutls_certificate_set_x509_key(t->cred, crts, n_crts, pkey);
	if (r < 0)
		snprintf(err, errsize, "tls_cert %s / tls_key %s: %s", cert_path, key_path,
		    gnutls_strerror(r));
out:
	for (unsigned i = 0; i < n_crts; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	if (pkey)
		gnutls_x509_privkey_deinit(pkey);
	tls_wipe_datum(&cert);
	tls_wipe_datum(&key);
	return r < 0 ? -1 : 0;
}

struct tls *
tls_server_new(const struct conf *conf, char *err, size_t errsize)
{
	if (!tls_configured(conf)) {
		snprintf(err, errsize, "no tls_cert/tls_key configured");
		return NULL;
	}
	/* GnuTLS is loaded here, when a session first needs it. */
	if (tlslib_load(err, errsize) < 0)
		return NULL;
	struct tls *t = tls_alloc(err, errsize);
	if (!t)
		return NULL;
	if (conf->tls_handshake_timeout > 0 && conf->tls_handshake_timeout <= 3600)
		t->handshake_ms = (int)conf->tls_handshake_timeout * 1000;
	int r = gnutls_certificate_allocate_credentials(&t->cred);
	if (r < 0) {
		snprintf(err, errsize, "TLS credentials: %s", gnutls_strerror(r));
		goto fail;
	}
	if (tls_load_keypair(t, conf->tls_cert, conf->tls_key, err, errsize) < 0)
		goto fail;
	gnutls_certificate_set_known_dh_params(t->cred, GNUTLS_SEC_PARAM_MEDIUM);
	if (tls_session_init(t, GNUTLS_SERVER, conf->tls_priority, err, errsize) < 0)
		goto fail;
	gnutls_certificate_server_set_request(t->session, GNUTLS_CERT_IGNORE);
	return t;
fail:
	tls_destroy(t);
	return NULL;
}

/* RFC 6066 §3: SNI carries host names only, never address literals. */
static int
tls_is_address(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static int
tls_client_trust(struct tls *t, const char *ca_file, char *err, size_t errsize)
{
	int r = ca_file ?
	    gnutls_certificate_set_x509_trust_file(t->cred, ca_file, GNUTLS_X509_FMT_PEM) :
	    gnutls_certificate_set_x509_system_trust(t->cred);
	if (r <= 0) {
		snprintf(err, errsize, "no trusted CA certificates loaded from %s%s%s",
		    ca_file ? ca_file : "the system store", r < 0 ? ": " : "",
		    r < 0 ? gnutls_strerror(r) : "");
		return -1;
	}
	return 0;
}

struct tls *
tls_client_new(const char *server_name, int verify, const char *ca_file,
    const char *priority, char *err, size_t errsize)
{
	if (tlslib_load(err, errsize) < 0)
		return NULL;
	struct tls *t = tls_alloc(err, errsize);
	if (!t)
		return NULL;
	int r = gnutls_certificate_allocate_credentials(&t->cred);
	if (r < 0) {
		snprintf(err, errsize, "TLS credentials: %s", gnutls_strerror(r));
		goto fail;
	}
	if (verify && tls_client_trust(t, ca_file, err, errsize) < 0)
		goto fail;
	if (tls_session_init(t, GNUTLS_CLIENT, priority, err, errsize) < 0)
		goto fail;
	if (server_name && *server_name && !tls_is_address(server_name)) {
		r = gnutls_server_name_set(t->session, GNUTLS_NAME_DNS, server_name,
		    strlen(server_name));
		if (r < 0) {
			snprintf(err, errsize, "bad server name: %s", gnutls_strerror(r));
			goto fail;
		}
	}
	/* The handshake then fails unless the chain is trusted and the
	 * certificate names server_name (DNS or IP SAN). */
	if (verify)
		gnutls_session_set_verify_cert(t->session,
		    server_name && *server_name ? server_name : NULL, 0);
	return t;
fail:
	tls_destroy(t);
	return NULL;
}

void
tls_set_handshake_timeout(struct tls *tls, int seconds)
{
	if (seconds > 0)
		tls->handshake_ms = seconds * 1000;
}

static void
tls_build_description(struct tls *t)
{
	gnutls_protocol_t v = gnutls_protocol_get_version(t->session);
	const char *vname = gnutls_protocol_get_name(v);
	const char *suite = gnutls_ciphersuite_get(t->session);
	gnutls_cipher_algorithm_t c = gnutls_cipher_get(t->session);
	unsigned bits = (unsigned)gnutls_cipher_get_key_size(c) * 8;
	if (!vname)
		vname = "TLS";
	/* "TLS1.3" → "TLSv1.3", the spelling Received: headers use. */
	if (strncmp(vname, "TLS", 3) == 0 && vname[3] != 'v')
		snprintf(t->describe, sizeof t->describe, "TLSv%s with cipher %s (%u/%u bits)",
		    vname + 3, suite ? suite : "unknown", bits, bits);
	else
		snprintf(t->describe, sizeof t->describe, "%s with cipher %s (%u/%u bits)",
		    vname, suite ? suite : "unknown", bits, bits);
}

static void
tls_handshake_error(struct tls *t, int r, char *err, size_t errsize)
{
	if (t->timed_out || r == GNUTLS_E_TIMEDOUT)
		snprintf(err, errsize, "TLS handshake timed out after %d s", t->handshake_ms / 1000);
	else if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		gnutls_datum_t out = { NULL, 0 };
		unsigned status = gnutls_session_get_verify_cert_status(t->session);
		gnutls_certificate_type_t type = gnutls_certificate_type_get(t->session);
		if (gnutls_certificate_verification_status_print(status, type, &out, 0) == 0) {
			size_t n = strlen((char *)out.data);
			while (n > 0 && out.data[n - 1] == ' ')
				out.data[--n] = '\0';
			snprintf(err, errsize, "TLS certificate verification failed: %s", out.data);
			gnutls_free(out.data);
		} else
			snprintf(err, errsize, "TLS certificate verification failed");
	} else
		snprintf(err, errsize, "TLS handshake failed: %s", gnutls_strerror(r));
}

int
tls_handshake(struct tls *t, struct io *io, char *err, size_t errsize)
{
	/* The go-ahead (220 / +OK / OK) must leave in plaintext first. */
	io_flush(io);
	/* Plaintext pipelined after STARTTLS never reaches the TLS layer (S10). */
	io_discard_input(io);
	t->io = io;
	t->timed_out = 0;
	t->deadline = tls_now_ms() + t->handshake_ms;
	gnutls_handshake_set_timeout(t->session, (unsigned)t->handshake_ms);
	int r;
	do {
		r = gnutls_handshake(t->session);
	} while (r < 0 && !gnutls_error_is_fatal(r) && !t->timed_out &&
	    tls_now_ms() < t->deadline);
	t->deadline = 0;
	if (r < 0) {
		tls_handshake_error(t, r, err, errsize);
		/* Tell the peer why (protocol_version, handshake_failure, ...),
		 * unless it is gone or silent. */
		if (!t->timed_out && r != GNUTLS_E_PUSH_ERROR && r != GNUTLS_E_PULL_ERROR)
			gnutls_alert_send_appropriate(t->session, r);
		t->failed = 1;
		/* Whatever io does next, it must not read plaintext. */
		io_discard_input(io);
		io_set_transport(io, &tls_dead_transport);
		return -1;
	}
	t->established = 1;
	tls_build_description(t);
	io_set_transport(io, &t->transport);
	return 0;
}

const char *
tls_describe(const struct tls *tls)
{
	return tls && tls->established ? tls->describe : "no TLS";
}

void
tls_free(struct tls **tls)
{
	struct tls *t = *tls;
	if (!t)
		return;
	if (t->io && t->io->transport == &t->transport && !t->failed)
		io_flush(t->io);
	if (t->established && !t->failed && !t->eof) {
		t->deadline = tls_now_ms() + TLS_BYE_TIMEOUT_MS;
		gnutls_bye(t->session, GNUTLS_SHUT_WR);
	}
	if (t->io && t->io->transport == &t->transport)
		io_set_transport(t->io, &tls_dead_transport);
	tls_destroy(t);
	*tls = NULL;
}
