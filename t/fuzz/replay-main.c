/*
 * replay-main.c — a main() for the fuzz targets so `make check` exercises
 * them without libFuzzer: every file named on the command line (or in a
 * directory named there) is fed to LLVMFuzzerTestOneInput, and so are
 * deterministic mutations of each (bit flips, truncations, splices).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUTATIONS 200

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
feed_mutations(const uint8_t *data, size_t size)
{
	LLVMFuzzerTestOneInput(data, size);
	uint8_t *buf = malloc(size * 2 + 16);
	if (!buf)
		return;
	for (int m = 0; m < MUTATIONS; m++) {
		size_t n = size;
		memcpy(buf, data, size);
		switch (rng() % 4) {
		case 0:
			if (n)
				buf[rng() % n] ^= (uint8_t)(1u << (rng() % 8));
			break;
		case 1:
			n = n ? rng() % n : 0;
			break;
		case 2:
			if (n)
				buf[rng() % n] = (uint8_t)"\r\n.\0 {}()\"\\=+:<>@%!*"[rng() % 21];
			break;
		case 3:
			memcpy(buf + n, data, size < 16 ? size : 16);
			n += size < 16 ? size : 16;
			break;
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	free(buf);
}

static int
feed_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	static uint8_t buf[1 << 20];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	feed_mutations(buf, n);
	return 0;
}

int
main(int argc, char **argv)
{
	int files = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			files += feed_file(argv[i]) == 0;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char path[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
			files += feed_file(path) == 0;
		}
		if (d)
			closedir(d);
	}
	printf("replayed %d inputs with %d mutations each\n", files, MUTATIONS);
	return 0;
}
