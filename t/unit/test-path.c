/* Unit tests of lib/path: a path that does not fit is an error and an
 * empty output, never a cut path that names another file. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "path.h"
#include "unit.h"

static void
test_join(void)
{
	char out[PATH_MAX];
	CHECK(path_join(out, sizeof out, "/m/u", "cur", NULL) == 0 && strcmp(out, "/m/u/cur") == 0,
	    "path_join: two parts");
	CHECK(path_join(out, sizeof out, "/m/u", "new", "1.M2P3.h") == 0 &&
	    strcmp(out, "/m/u/new/1.M2P3.h") == 0, "path_join: three parts");
	char small[9];
	CHECK(path_join(small, sizeof small, "/m/u", "cur", NULL) == 0 && strcmp(small, "/m/u/cur") == 0,
	    "path_join: exactly the size (with the NUL) fits");
	errno = 0;
	CHECK(path_join(small, sizeof small, "/m/u", "curx", NULL) == -1 && errno == ENAMETOOLONG &&
	    small[0] == '\0', "path_join: one byte over is ENAMETOOLONG, output empty");
	/* The cut of "/m/u/.Trash/cur" at 9 bytes would be "/m/u/.Tr": another
	 * folder. */
	errno = 0;
	CHECK(path_join(small, sizeof small, "/m/u", ".Trash", "cur") == -1 && errno == ENAMETOOLONG &&
	    strcmp(small, "") == 0, "path_join: no cut path that names another folder");
}

static void
test_printf(void)
{
	char out[PATH_MAX];
	CHECK(path_printf(out, sizeof out, "%s/.%s.yubin-uids", "/m", "box") == 0 &&
	    strcmp(out, "/m/.box.yubin-uids") == 0, "path_printf: formats");
	/* A directory as long as PATH_MAX allows leaves no room for "/cur". */
	char dir[PATH_MAX];
	memset(dir, 'd', sizeof dir - 1);
	dir[sizeof dir - 1] = '\0';
	dir[0] = '/';
	errno = 0;
	CHECK(path_printf(out, sizeof out, "%s/cur", dir) == -1 && errno == ENAMETOOLONG && out[0] == '\0',
	    "path_printf: PATH_MAX overflow refused, not truncated");
	CHECK(path_join(out, sizeof out, dir, "cur", NULL) == -1 && out[0] == '\0',
	    "path_join: PATH_MAX overflow refused");
	char none[1] = { 'x' };
	CHECK(path_printf(none, 0, "%s", "a") == -1 && none[0] == 'x', "size 0: nothing written");
}

int
main(void)
{
	test_join();
	test_printf();
	return unit_done();
}
