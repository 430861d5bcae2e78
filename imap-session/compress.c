/*
 * compress.c — COMPRESS DEFLATE (RFC 4978). After the tagged OK, which
 * goes out plain, both directions of the session are raw DEFLATE
 * (lib/deflate) under the framer: every line and literal limit applies to
 * the inflated commands (S47, S52). With TLS, deflate works on the
 * plaintext and TLS encrypts what it makes.
 *
 * RFC 4978 §5 puts COMPRESS in command-auth: valid once logged in (the
 * command table says so; before login it is BAD like any command of a
 * later state), so an unauthenticated peer never gets an inflater. The
 * capability is advertised only then too.
 */
#include <errno.h>
#include <stdint.h>

#include "deflate.h"
#include "imap.h"
#include "log.h"

/* zlib's default level: most of the gain for a fraction of level 9's CPU. */
#define COMPRESS_LEVEL 6

enum verdict
cmd_compress(struct imap *im, struct imap_command *c)
{
	if (c->n != 1 || c->args[0].type != ARG_ATOM)
		return verdict(im, V_BAD, "COMPRESS needs one mechanism");
	/* RFC 4978 §3: NO with COMPRESSIONACTIVE (RFC 5530 §3). */
	if (im->deflate)
		return verdict(im, V_NO, "[COMPRESSIONACTIVE] DEFLATE is already active");
	if (!arg_is(&c->args[0], "DEFLATE"))
		return verdict(im, V_BAD, "Unknown compression mechanism");
	/* RFC 4978 §3: the client sends nothing more until the reply. Bytes
	 * already here were sent before the client knew whether they should be
	 * compressed: refuse, and read them as they are. */
	if (io_buffered(&im->io) > 0)
		return verdict(im, V_BAD, "Commands pipelined after COMPRESS");
	/* A message's worth of input may inflate beyond the ratio bound. */
	uint64_t allowance = im->s.conf.max_message_size + IMAP_LINE_MAX;
	im->deflate = deflate_new(COMPRESS_LEVEL, allowance);
	if (im->deflate == NULL) {
		log_err("COMPRESS: cannot set up zlib");
		return verdict(im, V_NO, "[UNAVAILABLE] Compression not available right now");
	}
	io_printf(&im->io, "%s OK DEFLATE active\r\n", c->tag);
	if (deflate_start(im->deflate, &im->io) != 0)
		return V_CLOSE;
	return V_DONE;
}

void
compress_bye(struct imap *im)
{
	int err = im->deflate ? deflate_inflate_error(im->deflate) : 0;
	if (err == 0)
		return;
	log_warn("compress user=%s peer=%s: %s", im->user, im->s.peer,
	    err == E2BIG ? "input inflates beyond the ratio bound" : "corrupt input");
	io_printf(&im->io, "* BYE %s\r\n", err == E2BIG ?
	    "Compressed input inflates too far" : "Compressed input is corrupt");
}

void
compress_end(struct imap *im)
{
	if (im->deflate == NULL)
		return;
	uint64_t in_raw, in_plain, out_plain, out_raw;
	deflate_counts(im->deflate, &in_raw, &in_plain, &out_plain, &out_raw);
	log_info("compress user=%s in=%llu/%llu out=%llu/%llu", im->user,
	    (unsigned long long)in_raw, (unsigned long long)in_plain,
	    (unsigned long long)out_raw, (unsigned long long)out_plain);
	io_set_codec(&im->io, NULL);
	deflate_free(&im->deflate);
}
