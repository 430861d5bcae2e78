/*
 * views.c — the views of a message the store's cache keeps for IMAP
 * (lib/folder.h, enum folder_view): ENVELOPE, BODY and BODYSTRUCTURE as
 * render.c writes them, the cached header fields as BODY[HEADER.FIELDS]
 * gives them, and the RFC 8970 preview. The store calls imap_view_render
 * (through struct store's render) when it parses a message; it knows no
 * IMAP syntax itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folder.h"
#include "mime.h"
#include "preview.h"
#include "render.h"

/* The header ends with its empty line, has no NUL, and every field was
 * indexed: then its cached fields answer as the message would. */
static int
fields_cacheable(const struct mime_message *mm)
{
	const struct mime_part *p = mm->root;
	const unsigned char *d = mm->data + p->hdr_off;
	size_t n = p->hdr_len;
	return n >= 2 && d[n - 2] == '\r' && d[n - 1] == '\n' && (n == 2 || d[n - 3] == '\n') &&
	    memchr(d, '\0', n) == NULL && p->hdr_count < MIME_HEADERS_MAX;
}

/* BODY[HEADER.FIELDS (...)] of every cached field, as the message gives. */
static char *
render_fields(const struct mime_message *mm, size_t *len_r)
{
	/* the names of folder_cached_field(), made once */
	static char section[512];
	if (section[0] == '\0') {
		size_t o = (size_t)snprintf(section, sizeof section, "HEADER.FIELDS (");
		for (size_t i = 0; folder_cached_field(i) && o < sizeof section; i++)
			o += (size_t)snprintf(section + o, sizeof section - o, "%s%s",
			    folder_cached_field(i),
			    folder_cached_field(i + 1) ? " " : ")");
	}
	unsigned char *out;
	if (!fields_cacheable(mm) || render_section(mm, section, &out, len_r) != 0)
		return NULL;
	return (char *)out;
}

/* The preview text of mm: "" when it has no text part (RFC 8970 sends
 * an empty string then; NIL is for LAZY only). */
static char *
render_preview(const struct mime_message *mm, size_t *len_r)
{
	char *s;
	int rc = message_preview(mm, &s, len_r);
	if (rc == 0 && (s = calloc(1, 1)) != NULL)
		*len_r = 0;
	return rc < 0 ? NULL : s;
}

/* View v of the parse mm, rendered (render.h). */
char *
imap_view_render(const struct mime_message *mm, enum folder_view v, size_t *len_r)
{
	switch (v) {
	case FOLDER_VIEW_ENVELOPE:
		return render_envelope(mm, len_r);
	case FOLDER_VIEW_BODY:
	case FOLDER_VIEW_BODYSTRUCTURE:
		return render_bodystructure(mm, v == FOLDER_VIEW_BODYSTRUCTURE, len_r);
	case FOLDER_VIEW_PREVIEW:
		return render_preview(mm, len_r);
	default:
		return render_fields(mm, len_r);
	}
}

