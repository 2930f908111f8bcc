/* libFuzzer target for the configuration reader (tests/fuzz.cmake): the input is written to a
 * temporary file read by config_load() (then config_explain(), whose output must load again)
 * and by config_load_matching(). Error messages must be valid UTF-8: they reach the terminal. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "utf8.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[1024], explained[1024];

static void cleanup(void) {
    unlink(path);
    unlink(explained);
}

static void temp_file(char *out, size_t cap, const char *name) {
    const char *tmp = getenv("TMPDIR");
    snprintf(out, cap, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    int fd = mkstemp(out);
    if (fd < 0) abort();
    close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    temp_file(path, sizeof path, "fuzz-config");
    temp_file(explained, sizeof explained, "fuzz-config-explained");
    atexit(cleanup);
    return 0;
}

static void must_be_text(const px_error *err) {
    if (!utf8_valid(err->msg, strlen(err->msg), NULL)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f)) abort();
    config *cfg;
    px_error err;
    if (config_load(path, &cfg, &err) == 0) {
        FILE *out = fopen(explained, "w");
        if (!out) abort();
        config_explain(cfg, out);
        if (fclose(out)) abort();
        config_free(cfg);
        if (config_load(explained, &cfg, &err)) abort(); /* the effective config reads back */
        config_free(cfg);
    } else {
        must_be_text(&err);
    }
    matcher_config m;
    if (config_load_matching(path, &m, &err)) must_be_text(&err);
    return 0;
}
