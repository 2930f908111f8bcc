#include "rome_fixture.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char DERIVED_STEM[] = "DERIVED_macro_competence_hierarchy";
/* Our own crosswalk fixture, named apart from the official file it mimics. */
static const char ESCO_STEM[] = "esco_crosswalk";

void rome_fixture_path(const char *dir, const char *stem, char *out, size_t cap) {
    if (!strcmp(stem, DERIVED_STEM))
        snprintf(out, cap, "%s/%s_%s.csv", dir, stem, ROME_FIXTURE_SUFFIX);
    else if (!strcmp(stem, ESCO_STEM)) /* the loader finds it by "mapping_esco_rome" */
        snprintf(out, cap, "%s/fixture_mapping_esco_rome_%s.csv", dir, ROME_FIXTURE_SUFFIX);
    else
        snprintf(out, cap, "%s/unix_%s_%s_utf8.csv", dir, stem, ROME_FIXTURE_SUFFIX);
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return buf;
}

int rome_fixture_write(const char *dir, const char *stem, const char *content, size_t len) {
    char path[1024];
    rome_fixture_path(dir, stem, path, sizeof path);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int rc = fwrite(content, 1, len, f) == len ? 0 : -1;
    if (fclose(f)) rc = -1;
    return rc;
}

char *rome_fixture_read(const char *dir, const char *stem) {
    char path[1024];
    rome_fixture_path(dir, stem, path, sizeof path);
    return slurp(path, NULL);
}

int rome_fixture_make(const char *fixture_dir, char *dir, size_t dir_cap) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, dir_cap, "%s/rome-fixture-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return -1;
    DIR *d = opendir(fixture_dir);
    if (!d) return -1;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".csv") != 0) continue;
        char src[1024], stem[256];
        snprintf(src, sizeof src, "%s/%s", fixture_dir, e->d_name);
        snprintf(stem, sizeof stem, "%.*s", (int)(n - 4), e->d_name);
        size_t len;
        char *content = slurp(src, &len);
        rc = content ? rome_fixture_write(dir, stem, content, len) : -1;
        free(content);
    }
    closedir(d);
    return rc;
}

void rome_fixture_remove(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}
