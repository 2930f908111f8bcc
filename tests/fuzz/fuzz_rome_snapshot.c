/* libFuzzer target for the snapshot reader (tests/fuzz.cmake): rome_snapshot_adopt() on the
 * bytes after the first, and rome_snapshot_load() on them as a file. When the first byte is odd
 * the XXH3 checksum is set right first, so that mutations reach the checks behind it. An image
 * the reader accepts must be canonical: encoding the index again gives the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "rome_snapshot.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECKSUM_AT 40 /* snapshot_header: magic, 6 × u32, body_size, then the checksum */

static char path[1024];

static void cleanup(void) { unlink(path); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/fuzz-snapshot-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) abort();
    close(fd);
    atexit(cleanup);
    return 0;
}

static void check(rome_index *idx, const unsigned char *img, size_t len) {
    if (!idx) return;
    void *again;
    size_t again_len;
    px_error err;
    if (rome_snapshot_encode(idx, &again, &again_len, &err)) abort();
    if (again_len != len || memcmp(again, img, len)) abort();
    free(again);
    rome_index_free(idx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t len = size - 1;
    unsigned char *img = malloc(len ? len : 1);
    if (!img) return 0;
    memcpy(img, data + 1, len);
    if ((data[0] & 1) && len >= CHECKSUM_AT + 8) {
        memset(img + CHECKSUM_AT, 0, 8);
        uint64_t sum = XXH3_64bits(img, len);
        memcpy(img + CHECKSUM_AT, &sum, 8);
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(img, 1, len, f) != len || fclose(f)) abort();
    px_error err;
    check(rome_snapshot_load(path, &err), img, len);
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) abort();
    memcpy(copy, img, len);
    check(rome_snapshot_adopt(copy, len, &err), img, len);
    free(img);
    return 0;
}
