#include "rome_load.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "csv_table.h"

/* qsort and bsearch, for arrays that may be empty: the C library declares their base non-NULL
 * even for 0 elements, and an empty vec (an export whose fiches have no bloc 6) has none. */
static void sort_n(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
    if (n) qsort(v, n, size, cmp);
}

static void *find_n(const void *key, const void *v, size_t n, size_t size,
                    int (*cmp)(const void *, const void *)) {
    return n ? bsearch(key, v, n, size, cmp) : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Growable arrays and a deduplicating string pool used only while loading.                    */

typedef struct vec {
    void *v;
    size_t n, cap, elem;
} vec;

static void *vec_push(vec *a) {
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 256;
        void *nv = realloc(a->v, ncap * a->elem);
        if (!nv) return NULL;
        a->v = nv;
        a->cap = ncap;
    }
    void *slot = (char *)a->v + a->n++ * a->elem;
    memset(slot, 0, a->elem);
    return slot;
}

/* The pool deduplicates labels (categories and types repeat thousands of times) with an
 * open-addressing table of offsets. */
typedef struct string_pool {
    char *bytes;
    size_t len, cap;
    uint32_t *slots; /* offset + 1, 0 = empty */
    size_t n_slots, used;
} string_pool;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int pool_rehash(string_pool *p, size_t n_slots) {
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < p->n_slots; i++) {
        if (!p->slots[i]) continue;
        const char *s = p->bytes + p->slots[i] - 1;
        size_t j = hash_bytes(s, strlen(s)) & (n_slots - 1);
        while (slots[j]) j = (j + 1) & (n_slots - 1);
        slots[j] = p->slots[i];
    }
    free(p->slots);
    p->slots = slots;
    p->n_slots = n_slots;
    return 0;
}

/* Returns the offset of s in the pool, adding it if new; UINT32_MAX when out of memory. */
static uint32_t pool_add(string_pool *p, const char *s) {
    size_t n = strlen(s);
    if ((p->used + 1) * 2 > p->n_slots && pool_rehash(p, p->n_slots ? p->n_slots * 2 : 4096))
        return UINT32_MAX;
    size_t j = hash_bytes(s, n) & (p->n_slots - 1);
    while (p->slots[j]) {
        const char *t = p->bytes + p->slots[j] - 1;
        if (!strcmp(t, s)) return p->slots[j] - 1;
        j = (j + 1) & (p->n_slots - 1);
    }
    if (p->len + n + 1 > p->cap) {
        size_t ncap = p->cap ? p->cap : 65536;
        while (ncap < p->len + n + 1) ncap *= 2;
        char *nb = realloc(p->bytes, ncap);
        if (!nb) return UINT32_MAX;
        p->bytes = nb;
        p->cap = ncap;
    }
    uint32_t off = (uint32_t)p->len;
    memcpy(p->bytes + p->len, s, n + 1);
    p->len += n + 1;
    p->slots[j] = off + 1;
    p->used++;
    return off;
}

/* ------------------------------------------------------------------------------------------ */

typedef struct link {
    uint32_t from, to;
    uint8_t importance;
} link;

/* A CSR of ESCO links while loading (rome_esco_csr once packed). */
typedef struct esco_links {
    uint32_t *offsets;
    rome_esco_link *links;
    uint32_t n;
} esco_links;

typedef struct loader {
    const char *dir;
    char suffix[16]; /* "v460" */
    rome_load_report *report;
    px_error *err;
    string_pool pool;
    vec grands_domaines, domaines, fiches, appellations, items, comp_domaines, enjeux, contextes;
    vec fiche_items, fiche_contextes; /* link */
    vec macro_refs;        /* uint32 code_ogr of each competence's macro, parallel to items */
    vec macro_enjeu_codes; /* char[4] enjeu code of each item, parallel to items */
    vec item_lines, fiche_lines, app_lines,
        ctx_lines;           /* uint32 source line, for duplicate errors */
    vec tag_rows;            /* tag_row, one per (tag, fiche) row of the arborescence files */
    vec tags, fiche_tags;    /* rome_tag and link, built from tag_rows */
    uint32_t optional_files; /* ROME_OPT_* */
    uint32_t esco_rows, esco_skipped; /* crosswalk records read, and skipped */
    esco_links app_esco, fiche_esco;  /* the crosswalk's CSRs (offsets always allocated) */
} loader;

static void warn(loader *L, uint32_t *counter, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(loader *L, uint32_t *counter, const char *fmt, ...) {
    (*counter)++;
    if (L->report->warnings++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(L->report->first_warning, sizeof L->report->first_warning, fmt, ap);
        va_end(ap);
    }
}

static int oom(loader *L) {
    return px_error_set(L->err, PX_ENOMEM, "rome: out of memory while loading %s", L->dir);
}

static csv_table *open_table(loader *L, const char *stem, const char *const *cols, size_t n) {
    char path[4096];
    if (!strncmp(stem, "DERIVED_", 8))
        snprintf(path, sizeof path, "%s/%s_%s.csv", L->dir, stem, L->suffix);
    else
        snprintf(path, sizeof path, "%s/unix_%s_%s_utf8.csv", L->dir, stem, L->suffix);
    return csv_table_read(path, cols, n, L->err);
}

/* An optional file that is absent yields *out = NULL and success; one that is present is read
 * and checked like any other. */
static int open_optional(loader *L, const char *stem, const char *const *cols, size_t n,
                         uint32_t bit, csv_table **out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/unix_%s_%s_utf8.csv", L->dir, stem, L->suffix);
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) return 0;
    if (!(*out = csv_table_read(path, cols, n, L->err))) return -1;
    L->optional_files |= bit;
    return 0;
}

static int require_rows(loader *L, const csv_table *t) {
    if (csv_table_rows(t) == 0)
        return px_error_set(L->err, PX_EINVAL,
                            "%s: no records after the header (the referential cannot be empty)",
                            csv_table_path(t));
    return 0;
}

static int add_label(loader *L, uint32_t *out, const char *s) {
    *out = pool_add(&L->pool, s);
    return *out == UINT32_MAX ? oom(L) : 0;
}

/* Copies a short code into dst (zero-padded to cap) after checking it against `shape`, where 'A'
 * stands for an uppercase letter and '9' for a digit ("A9999" is a fiche code). */
static int copy_code(loader *L, const csv_table *t, size_t row, size_t col, char *dst, size_t cap,
                     const char *shape, const char *expected) {
    const char *s = csv_table_field(t, row, col);
    size_t n = strlen(s);
    int ok = n == strlen(shape) && n < cap;
    for (size_t i = 0; ok && i < n; i++)
        ok = shape[i] == 'A' ? (s[i] >= 'A' && s[i] <= 'Z') : (s[i] >= '0' && s[i] <= '9');
    if (!ok) return csv_table_field_error(t, row, col, L->err, "'%.40s' is not %s", s, expected);
    memset(dst, 0, cap);
    memcpy(dst, s, n);
    return 0;
}

/* emploi_reglemente / emploi_cadre hold "O", "N" or nothing (the export leaves a third of the
 * fiches and most appellations unqualified); only "O" sets the flag, anything else is refused. */
static int yes_no_flag(loader *L, const csv_table *t, size_t row, size_t col, unsigned bit,
                       unsigned *flags) {
    const char *s = csv_table_field(t, row, col);
    if (!strcmp(s, "O"))
        *flags |= bit;
    else if (*s && strcmp(s, "N") != 0)
        return csv_table_field_error(t, row, col, L->err, "'%.40s', expected 'O', 'N' or empty", s);
    return 0;
}

/* The ROME version is read from the export's file names: unix_referentiel_code_rome_v460_utf8.csv
 * is ROME 4.0 version 60. Two versions in one directory are refused as ambiguous. */
static int detect_version(loader *L, uint32_t *major, uint32_t *version) {
    DIR *d = opendir(L->dir);
    if (!d) return px_error_set(L->err, PX_EIO, "%s: cannot open the ROME directory", L->dir);
    const char *prefix = "unix_referentiel_code_rome_v";
    size_t plen = strlen(prefix);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned digits = 0;
        char tail[32];
        if (strncmp(e->d_name, prefix, plen) != 0) continue;
        if (sscanf(e->d_name + plen, "%u%31s", &digits, tail) != 2 ||
            strcmp(tail, "_utf8.csv") != 0 || digits < 100 || digits > 999)
            continue;
        if (found && digits != *major * 100 + *version) {
            closedir(d);
            return px_error_set(
                L->err, PX_EINVAL,
                "%s: holds two ROME versions (v%u%02u and v%u); keep one export per directory",
                L->dir, *major, *version, digits);
        }
        *major = digits / 100;
        *version = digits % 100;
        found = 1;
    }
    closedir(d);
    if (!found)
        return px_error_set(L->err, PX_EINVAL,
                            "%s: no unix_referentiel_code_rome_vNNN_utf8.csv file (is this the "
                            "official ROME CSV export?)",
                            L->dir);
    snprintf(L->suffix, sizeof L->suffix, "v%u%02u", *major, *version);
    return 0;
}

static int cmp_code4(const void *a, const void *b) { return strncmp(a, b, 4); }
static int cmp_fiche(const void *a, const void *b) {
    return strcmp(((const rome_fiche *)a)->code, ((const rome_fiche *)b)->code);
}
static int cmp_u32_key(const void *a, const void *b) {
    uint32_t x, y;
    memcpy(&x, a, 4);
    memcpy(&y, b, 4);
    return (x > y) - (x < y);
}

/* Sorts an entity vector by its key and refuses duplicate keys, naming both source lines.
 * `lines` is parallel to `entities` and is permuted with it. */
static int sort_unique(loader *L, vec *entities, vec *lines, int (*cmp)(const void *, const void *),
                       const char *what, const char *file) {
    size_t n = entities->n, elem = entities->elem;
    /* Sort (entity, line) records together by prefixing each entity copy with its line. */
    size_t rec = elem + sizeof(uint32_t);
    unsigned char *tmp = malloc(n * rec + 1);
    if (!tmp) return oom(L);
    for (size_t i = 0; i < n; i++) {
        memcpy(tmp + i * rec, (char *)entities->v + i * elem, elem);
        memcpy(tmp + i * rec + elem, (uint32_t *)lines->v + i, 4);
    }
    sort_n(tmp, n, rec, cmp);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && cmp(tmp + (i - 1) * rec, tmp + i * rec) == 0) {
            uint32_t l1, l2;
            memcpy(&l1, tmp + (i - 1) * rec + elem, 4);
            memcpy(&l2, tmp + i * rec + elem, 4);
            rc = px_error_set(L->err, PX_EINVAL,
                              "%s: duplicate %s on lines %u and %u (codes must be unique)", file,
                              what, l1 < l2 ? l1 : l2, l1 < l2 ? l2 : l1);
            break;
        }
        memcpy((char *)entities->v + i * elem, tmp + i * rec, elem);
        memcpy((uint32_t *)lines->v + i, tmp + i * rec + elem, 4);
    }
    free(tmp);
    return rc;
}

static int push_line(loader *L, vec *lines, uint32_t line) {
    uint32_t *slot = vec_push(lines);
    if (!slot) return oom(L);
    *slot = line;
    return 0;
}

static int load_domains(loader *L) {
    static const char *const gd_cols[] = {"code_grand_domaine", "libelle_grand_domaine"};
    static const char *const dp_cols[] = {"code_domaine_professionnel",
                                          "libelle_domaine_professionnel"};
    csv_table *t = open_table(L, "grand_domaine", gd_cols, 2);
    if (!t) return -1;
    int rc = require_rows(L, t);
    vec lines = {.elem = 4};
    for (size_t r = 0; !rc && r < csv_table_rows(t); r++) {
        rome_grand_domaine *g = vec_push(&L->grands_domaines);
        if (!g)
            rc = oom(L);
        else
            rc = copy_code(L, t, r, 0, g->code, sizeof g->code, "A",
                           "a grand domaine letter (A..Z)") ||
                 add_label(L, &g->label, csv_table_field(t, r, 1)) ||
                 push_line(L, &lines, csv_table_line(t, r));
    }
    if (!rc)
        rc = sort_unique(L, &L->grands_domaines, &lines, cmp_code4, "grand domaine",
                         csv_table_path(t));
    csv_table_free(t);
    lines.n = 0;
    if (rc) goto out;

    if (!(t = open_table(L, "domaine_professionnel", dp_cols, 2))) {
        rc = -1;
        goto out;
    }
    rc = require_rows(L, t);
    for (size_t r = 0; !rc && r < csv_table_rows(t); r++) {
        rome_domaine *d = vec_push(&L->domaines);
        if (!d) {
            rc = oom(L);
            break;
        }
        rc = copy_code(L, t, r, 0, d->code, sizeof d->code, "A99",
                       "a domaine professionnel code such as 'M18'") ||
             add_label(L, &d->label, csv_table_field(t, r, 1)) ||
             push_line(L, &lines, csv_table_line(t, r));
        if (rc) break;
        char gd[4] = {d->code[0], 0, 0, 0};
        void *g = find_n(gd, L->grands_domaines.v, L->grands_domaines.n, L->grands_domaines.elem,
                         cmp_code4);
        if (!g)
            rc = csv_table_field_error(
                t, r, 0, L->err,
                "domaine '%s' belongs to no grand domaine (no '%c' in unix_grand_domaine)", d->code,
                d->code[0]);
        else
            d->grand_domaine =
                (uint32_t)(((rome_grand_domaine *)g) - (rome_grand_domaine *)L->grands_domaines.v);
    }
    if (!rc)
        rc = sort_unique(L, &L->domaines, &lines, cmp_code4, "domaine professionnel",
                         csv_table_path(t));
    csv_table_free(t);
out:
    free(lines.v);
    return rc;
}

static int load_fiches(loader *L) {
    enum { C_CODE, C_OGR, C_LABEL, C_REGL, C_CADRE, C_PARENT, N_COLS };
    static const char *const cols[] = {"code_rome",         "code_ogr",     "libelle_rome",
                                       "emploi_reglemente", "emploi_cadre", "code_rome_parent"};
    csv_table *t = open_table(L, "referentiel_code_rome", cols, N_COLS);
    if (!t) return -1;
    int rc = require_rows(L, t);
    for (size_t r = 0; !rc && r < csv_table_rows(t); r++) {
        rome_fiche *f = vec_push(&L->fiches);
        if (!f) {
            rc = oom(L);
            break;
        }
        rc = copy_code(L, t, r, C_CODE, f->code, sizeof f->code, "A9999",
                       "a ROME code (a letter and 4 digits, e.g. D1505)") ||
             csv_table_u32(t, r, C_OGR, &f->code_ogr, L->err) ||
             add_label(L, &f->label, csv_table_field(t, r, C_LABEL)) ||
             push_line(L, &L->fiche_lines, csv_table_line(t, r));
        if (rc) break;
        char dp[4] = {f->code[0], f->code[1], f->code[2], 0};
        void *d = find_n(dp, L->domaines.v, L->domaines.n, L->domaines.elem, cmp_code4);
        if (!d) {
            rc = csv_table_field_error(t, r, C_CODE, L->err,
                                       "fiche '%s' is in no known domaine professionnel ('%s')",
                                       f->code, dp);
            break;
        }
        f->domaine = (uint16_t)(((rome_domaine *)d) - (rome_domaine *)L->domaines.v);
        f->grand_domaine = (uint8_t)((rome_domaine *)d)->grand_domaine;
        unsigned flags = 0;
        rc = yes_no_flag(L, t, r, C_REGL, ROME_FICHE_REGLEMENTE, &flags) ||
             yes_no_flag(L, t, r, C_CADRE, ROME_FICHE_CADRE, &flags);
        f->flags = (uint8_t)flags;
        /* The parent is a ROME v3 code, so it need not name a fiche of this export. */
        if (!rc && *csv_table_field(t, r, C_PARENT))
            rc = copy_code(L, t, r, C_PARENT, f->parent, sizeof f->parent, "A9999",
                           "a ROME code (a letter and 4 digits) or empty");
    }
    if (!rc)
        rc = sort_unique(L, &L->fiches, &L->fiche_lines, cmp_fiche, "code_rome", csv_table_path(t));
    csv_table_free(t);
    return rc;
}

static uint32_t fiche_id(loader *L, const char *code) {
    rome_fiche key;
    memset(&key, 0, sizeof key);
    snprintf(key.code, sizeof key.code, "%s", code);
    rome_fiche *f = find_n(&key, L->fiches.v, L->fiches.n, L->fiches.elem, cmp_fiche);
    return f ? (uint32_t)(f - (rome_fiche *)L->fiches.v) : ROME_NONE;
}

static int load_appellations(loader *L) {
    enum { C_OGR, C_LONG, C_SHORT, C_ROME, C_CLASS, C_PEU, C_REGL, C_CADRE, N_COLS };
    static const char *const cols[] = {"code_ogr",
                                       "libelle_appellation_long",
                                       "libelle_appellation_court",
                                       "code_rome",
                                       "classification",
                                       "peu_usite",
                                       "emploi_reglemente",
                                       "emploi_cadre"};
    csv_table *t = open_table(L, "referentiel_appellation", cols, N_COLS);
    if (!t) return -1;
    int rc = require_rows(L, t);
    for (size_t r = 0; !rc && r < csv_table_rows(t); r++) {
        uint32_t fiche = fiche_id(L, csv_table_field(t, r, C_ROME));
        if (fiche == ROME_NONE) {
            warn(L, &L->report->dangling_appellations,
                 "%s:%u: appellation names unknown fiche '%.20s' (row skipped)", csv_table_path(t),
                 csv_table_line(t, r), csv_table_field(t, r, C_ROME));
            continue;
        }
        rome_appellation *a = vec_push(&L->appellations);
        if (!a) {
            rc = oom(L);
            break;
        }
        a->fiche = fiche;
        rc = csv_table_u32(t, r, C_OGR, &a->code_ogr, L->err) ||
             add_label(L, &a->label_long, csv_table_field(t, r, C_LONG)) ||
             add_label(L, &a->label_short, csv_table_field(t, r, C_SHORT)) ||
             push_line(L, &L->app_lines, csv_table_line(t, r));
        if (!strcmp(csv_table_field(t, r, C_CLASS), "PRINCIPALE"))
            a->flags |= ROME_APPELLATION_PRINCIPALE;
        if (!strcmp(csv_table_field(t, r, C_PEU), "O")) a->flags |= ROME_APPELLATION_PEU_USITE;
        /* Kept as the appellation states it: an empty value is not read as the fiche's. */
        unsigned flags = a->flags;
        if (!rc)
            rc = yes_no_flag(L, t, r, C_REGL, ROME_APPELLATION_REGLEMENTE, &flags) ||
                 yes_no_flag(L, t, r, C_CADRE, ROME_APPELLATION_CADRE, &flags);
        a->flags = flags;
    }
    if (!rc)
        rc = sort_unique(L, &L->appellations, &L->app_lines, cmp_u32_key, "appellation code_ogr",
                         csv_table_path(t));
    csv_table_free(t);
    return rc;
}

static int load_competences(loader *L) {
    enum { C_OGR, C_NATURE, C_LABEL, C_MACRO_OGR, C_MACRO_CODE, C_CAT, C_SUBCAT, N_COLS };
    static const char *const cols[] = {
        "code_ogr",        "nature",   "libelle_competence", "code_ogr_macro_comp",
        "code_macro_comp", "cat_comp", "sous_cat_comp"};
    csv_table *t = open_table(L, "referentiel_competence", cols, N_COLS);
    if (!t) return -1;
    int rc = require_rows(L, t);
    for (size_t r = 0; !rc && r < csv_table_rows(t); r++) {
        rome_item *it = vec_push(&L->items);
        uint32_t *macro = vec_push(&L->macro_refs);
        char *enjeu = vec_push(&L->macro_enjeu_codes);
        if (!it || !macro || !enjeu) {
            rc = oom(L);
            break;
        }
        it->macro = ROME_NONE;
        it->enjeu = ROME_NONE;
        *macro = ROME_NONE;
        const char *nature = csv_table_field(t, r, C_NATURE), *cat = csv_table_field(t, r, C_CAT);
        if (!strcmp(cat, "Savoir-faire"))
            it->kind = ROME_KIND_SAVOIR_FAIRE;
        else if (!strcmp(cat, "Savoir-être professionnel"))
            it->kind = ROME_KIND_SAVOIR_ETRE;
        else {
            rc = csv_table_field_error(
                t, r, C_CAT, L->err,
                "'%.60s', expected 'Savoir-faire' or 'Savoir-être professionnel'", cat);
            break;
        }
        rc = csv_table_u32(t, r, C_OGR, &it->code_ogr, L->err) ||
             add_label(L, &it->label, csv_table_field(t, r, C_LABEL)) ||
             add_label(L, &it->category, cat) ||
             add_label(L, &it->subcategory, csv_table_field(t, r, C_SUBCAT)) ||
             push_line(L, &L->item_lines, csv_table_line(t, r));
        if (rc) break;
        if (!strcmp(nature, "Macro-compétence")) {
            const char *mc = csv_table_field(t, r, C_MACRO_CODE);
            it->flags |= ROME_ITEM_MACRO;
            if (strlen(mc) < 2) {
                rc = csv_table_field_error(
                    t, r, C_MACRO_CODE, L->err,
                    "'%.20s', expected a macro-compétence hierarchy code such as '4A201'", mc);
                break;
            }
            enjeu[0] = mc[0];
            enjeu[1] = mc[1];
        } else if (!strcmp(nature, "Compétence")) {
            const char *m = csv_table_field(t, r, C_MACRO_OGR);
            if (*m && csv_table_u32(t, r, C_MACRO_OGR, macro, L->err)) {
                rc = -1;
                break;
            }
        } else {
            rc = csv_table_field_error(t, r, C_NATURE, L->err,
                                       "'%.40s', expected 'Compétence' or 'Macro-compétence'",
                                       nature);
        }
    }
    csv_table_free(t);
    return rc;
}

static int load_savoirs(loader *L) {
    enum { C_OGR, C_LABEL, C_CAT, C_SUBCAT, N_COLS };
    static const char *const cols[] = {"code_ogr_savoir", "libelle_savoir", "categorie_savoir",
                                       "sous_categorie_savoir"};
    csv_table *t = open_table(L, "referentiel_savoir", cols, N_COLS);
    if (!t) return -1;
    int rc = require_rows(L, t);
    for (size_t r = 0; !rc && r < csv_table_rows(t); r++) {
        rome_item *it = vec_push(&L->items);
        uint32_t *macro = vec_push(&L->macro_refs);
        if (!it || !macro || !vec_push(&L->macro_enjeu_codes)) {
            rc = oom(L);
            break;
        }
        it->kind = ROME_KIND_SAVOIR;
        it->macro = it->enjeu = *macro = ROME_NONE;
        const char *cat = csv_table_field(t, r, C_CAT);
        if (!strcmp(cat, "Certifications et habilitations")) it->flags |= ROME_ITEM_QUALIFICATION;
        rc = csv_table_u32(t, r, C_OGR, &it->code_ogr, L->err) ||
             add_label(L, &it->label, csv_table_field(t, r, C_LABEL)) ||
             add_label(L, &it->category, cat) ||
             add_label(L, &it->subcategory, csv_table_field(t, r, C_SUBCAT)) ||
             push_line(L, &L->item_lines, csv_table_line(t, r));
    }
    csv_table_free(t);
    return rc;
}

/* Enjeux and competence domaines come from the DERIVED hierarchy file, one row per macro. */
static int load_hierarchy(loader *L) {
    enum { C_DOM, C_DOM_LABEL, C_ENJEU, C_ENJEU_LABEL, N_COLS };
    static const char *const cols[] = {"code_domaine_competence", "libelle_domaine_competence",
                                       "code_enjeu", "libelle_enjeu"};
    csv_table *t = open_table(L, "DERIVED_macro_competence_hierarchy", cols, N_COLS);
    if (!t) return -1;
    int rc = require_rows(L, t);
    for (size_t r = 0; !rc && r < csv_table_rows(t); r++) {
        char dom[4], enj[4];
        rc = copy_code(L, t, r, C_DOM, dom, sizeof dom, "9", "a competence domaine digit") ||
             copy_code(L, t, r, C_ENJEU, enj, sizeof enj, "9A", "an enjeu code such as '4A'");
        if (rc) break;
        if (!find_n(dom, L->comp_domaines.v, L->comp_domaines.n, L->comp_domaines.elem,
                    cmp_code4)) {
            rome_comp_domaine *d = vec_push(&L->comp_domaines);
            if (!d) {
                rc = oom(L);
                break;
            }
            memcpy(d->code, dom, 4);
            rc = add_label(L, &d->label, csv_table_field(t, r, C_DOM_LABEL));
            sort_n(L->comp_domaines.v, L->comp_domaines.n, L->comp_domaines.elem, cmp_code4);
        }
        if (!rc && !find_n(enj, L->enjeux.v, L->enjeux.n, L->enjeux.elem, cmp_code4)) {
            rome_enjeu *e = vec_push(&L->enjeux);
            if (!e) {
                rc = oom(L);
                break;
            }
            memcpy(e->code, enj, 4);
            rc = add_label(L, &e->label, csv_table_field(t, r, C_ENJEU_LABEL));
            sort_n(L->enjeux.v, L->enjeux.n, L->enjeux.elem, cmp_code4);
        }
    }
    csv_table_free(t);
    /* An enjeu's domaine is its code's first character. */
    for (size_t i = 0; !rc && i < L->enjeux.n; i++) {
        rome_enjeu *e = (rome_enjeu *)L->enjeux.v + i;
        char dom[4] = {e->code[0], 0, 0, 0};
        rome_comp_domaine *d =
            find_n(dom, L->comp_domaines.v, L->comp_domaines.n, L->comp_domaines.elem, cmp_code4);
        e->comp_domaine = d ? (uint32_t)(d - (rome_comp_domaine *)L->comp_domaines.v) : ROME_NONE;
    }
    return rc;
}

/* Items from both referentials share one id space sorted by code_ogr; macro and enjeu references
 * are resolved once the order is final. */
static int finish_items(loader *L) {
    size_t n = L->items.n;
    typedef struct {
        rome_item item;
        uint32_t macro_ref;
        char enjeu[4];
        uint32_t line;
    } row;
    row *rows = malloc((n ? n : 1) * sizeof *rows);
    if (!rows) return oom(L);
    for (size_t i = 0; i < n; i++) {
        rows[i].item = ((rome_item *)L->items.v)[i];
        rows[i].macro_ref = ((uint32_t *)L->macro_refs.v)[i];
        memcpy(rows[i].enjeu, (char *)L->macro_enjeu_codes.v + i * 4, 4);
        rows[i].line = ((uint32_t *)L->item_lines.v)[i];
    }
    sort_n(rows, n, sizeof *rows, cmp_u32_key);
    int rc = 0;
    for (size_t i = 1; i < n && !rc; i++)
        if (rows[i].item.code_ogr == rows[i - 1].item.code_ogr)
            rc = px_error_set(L->err, PX_EINVAL,
                              "%s: duplicate item code_ogr %u (lines %u and %u of the "
                              "competence/savoir referentials; codes must be unique)",
                              L->dir, rows[i].item.code_ogr, rows[i - 1].line, rows[i].line);
    for (size_t i = 0; i < n && !rc; i++) {
        rome_item *it = (rome_item *)L->items.v + i;
        *it = rows[i].item;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        rome_item *it = (rome_item *)L->items.v + i;
        if (rows[i].macro_ref != ROME_NONE) {
            rome_item key = {.code_ogr = rows[i].macro_ref};
            rome_item *m = find_n(&key, L->items.v, n, sizeof *it, cmp_u32_key);
            if (m && (m->flags & ROME_ITEM_MACRO))
                it->macro = (uint32_t)(m - (rome_item *)L->items.v);
            else
                warn(L, &L->report->dangling_links,
                     "%s: competence %u names unknown macro-compétence %u", L->dir, it->code_ogr,
                     rows[i].macro_ref);
        }
        if (it->flags & ROME_ITEM_MACRO) {
            rome_enjeu *e =
                find_n(rows[i].enjeu, L->enjeux.v, L->enjeux.n, L->enjeux.elem, cmp_code4);
            if (e)
                it->enjeu = (uint32_t)(e - (rome_enjeu *)L->enjeux.v);
            else
                warn(L, &L->report->dangling_links,
                     "%s: macro-compétence %u is in unknown enjeu '%.2s'", L->dir, it->code_ogr,
                     rows[i].enjeu);
        }
    }
    free(rows);
    return rc;
}

static int load_contextes(loader *L) {
    enum { C_OGR, C_LABEL, C_TYPE, C_TYPE_LABEL, N_COLS };
    static const char *const cols[] = {"code_ogr", "libelle_cont_travail", "code_type_cont_trav",
                                       "libelle_type_cont_trav"};
    csv_table *t = open_table(L, "referentiel_contexte_travail", cols, N_COLS);
    if (!t) return -1;
    int rc = require_rows(L, t);
    for (size_t r = 0; !rc && r < csv_table_rows(t); r++) {
        rome_contexte *c = vec_push(&L->contextes);
        if (!c) {
            rc = oom(L);
            break;
        }
        rc = csv_table_u32(t, r, C_OGR, &c->code_ogr, L->err) ||
             add_label(L, &c->label, csv_table_field(t, r, C_LABEL)) ||
             csv_table_u32(t, r, C_TYPE, &c->type_code, L->err) ||
             add_label(L, &c->type_label, csv_table_field(t, r, C_TYPE_LABEL)) ||
             push_line(L, &L->ctx_lines, csv_table_line(t, r));
    }
    if (!rc)
        rc = sort_unique(L, &L->contextes, &L->ctx_lines, cmp_u32_key, "contexte code_ogr",
                         csv_table_path(t));
    csv_table_free(t);
    return rc;
}

static int cmp_link(const void *a, const void *b) {
    const link *x = a, *y = b;
    if (x->from != y->from) return x->from < y->from ? -1 : 1;
    return (x->to > y->to) - (x->to < y->to);
}

static int load_links(loader *L) {
    enum { C_ROME, C_BLOC, C_RUBRIQUE, C_OGR, N_COLS };
    static const char *const cols[] = {"code_rome", "code_compo_bloc", "code_rubrique", "code_ogr"};
    csv_table *t = open_table(L, "liens_rome_referentiels", cols, N_COLS);
    if (!t) return -1;
    int rc = require_rows(L, t);
    for (size_t r = 0; !rc && r < csv_table_rows(t); r++) {
        const char *bloc = csv_table_field(t, r, C_BLOC);
        int is_item = !strcmp(bloc, "5"), is_ctx = !strcmp(bloc, "6");
        if (!is_item && !is_ctx)
            continue; /* blocs 1, 2: the fiche's own code and its appellations */
        uint32_t code, target;
        if (csv_table_u32(t, r, C_OGR, &code, L->err)) {
            rc = -1;
            break;
        }
        uint32_t fiche = fiche_id(L, csv_table_field(t, r, C_ROME));
        if (is_item) {
            rome_item key = {.code_ogr = code};
            rome_item *it = find_n(&key, L->items.v, L->items.n, L->items.elem, cmp_u32_key);
            target = it ? (uint32_t)(it - (rome_item *)L->items.v) : ROME_NONE;
        } else {
            rome_contexte key = {.code_ogr = code};
            rome_contexte *c =
                find_n(&key, L->contextes.v, L->contextes.n, L->contextes.elem, cmp_u32_key);
            target = c ? (uint32_t)(c - (rome_contexte *)L->contextes.v) : ROME_NONE;
        }
        if (fiche == ROME_NONE || target == ROME_NONE) {
            warn(L, &L->report->dangling_links,
                 "%s:%u: link %.20s → %u names an unknown %s (row skipped)", csv_table_path(t),
                 csv_table_line(t, r), csv_table_field(t, r, C_ROME), code,
                 fiche == ROME_NONE ? "fiche"
                 : is_item          ? "competence or savoir"
                                    : "contexte");
            continue;
        }
        link *l = vec_push(is_item ? &L->fiche_items : &L->fiche_contextes);
        if (!l) {
            rc = oom(L);
            break;
        }
        *l = (link){fiche, target, ROME_IMPORTANCE_NONE};
    }
    csv_table_free(t);
    /* Sorted by (fiche, target), duplicates folded: the CSR rows are then ready and searchable. */
    vec *sets[2] = {&L->fiche_items, &L->fiche_contextes};
    for (int s = 0; s < 2 && !rc; s++) {
        sort_n(sets[s]->v, sets[s]->n, sizeof(link), cmp_link);
        size_t w = 0;
        link *v = sets[s]->v;
        for (size_t i = 0; i < sets[s]->n; i++)
            if (w == 0 || cmp_link(&v[w - 1], &v[i]) != 0) v[w++] = v[i];
        sets[s]->n = w;
    }
    return rc;
}

static int load_coherence(loader *L) {
    enum { C_ROME, C_OGR, C_COEUR, N_COLS };
    static const char *const cols[] = {"code_rome", "code_ogr", "coeur_metier"};
    csv_table *t = open_table(L, "coherence_item", cols, N_COLS);
    if (!t) return -1;
    int rc = 0;
    for (size_t r = 0; !rc && r < csv_table_rows(t); r++) {
        const char *coeur = csv_table_field(t, r, C_COEUR);
        uint8_t imp;
        if (!*coeur)
            imp = ROME_IMPORTANCE_NONE;
        else if (!strcmp(coeur, "Principale"))
            imp = ROME_IMPORTANCE_PRINCIPALE;
        else if (!strcmp(coeur, "Émergente"))
            imp = ROME_IMPORTANCE_EMERGENTE;
        else {
            rc = csv_table_field_error(t, r, C_COEUR, L->err,
                                       "'%.40s', expected 'Principale', 'Émergente' or empty",
                                       coeur);
            break;
        }
        uint32_t code;
        if (csv_table_u32(t, r, C_OGR, &code, L->err)) {
            rc = -1;
            break;
        }
        uint32_t fiche = fiche_id(L, csv_table_field(t, r, C_ROME));
        rome_item ikey = {.code_ogr = code};
        rome_item *it = find_n(&ikey, L->items.v, L->items.n, L->items.elem, cmp_u32_key);
        link *l = NULL;
        if (fiche != ROME_NONE && it) {
            link key = {fiche, (uint32_t)(it - (rome_item *)L->items.v), 0};
            l = find_n(&key, L->fiche_items.v, L->fiche_items.n, sizeof(link), cmp_link);
        }
        if (l) {
            l->importance = imp;
            continue;
        }
        /* The export also rates fiche → contexte pairs; importance means nothing there. */
        rome_contexte ckey = {.code_ogr = code};
        rome_contexte *c =
            find_n(&ckey, L->contextes.v, L->contextes.n, L->contextes.elem, cmp_u32_key);
        if (fiche != ROME_NONE && c) {
            link key = {fiche, (uint32_t)(c - (rome_contexte *)L->contextes.v), 0};
            if (find_n(&key, L->fiche_contextes.v, L->fiche_contextes.n, sizeof(link), cmp_link))
                continue;
        }
        warn(L, &L->report->dangling_coherence,
             "%s:%u: coherence row %.20s/%u matches no fiche link (row skipped)", csv_table_path(t),
             csv_table_line(t, r), csv_table_field(t, r, C_ROME), code);
    }
    csv_table_free(t);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Optional files: texts, RIASEC and the tag arborescences. Absent, they leave their fields empty;
 * present, they are checked as strictly as the rest, and a row naming a fiche the export does not
 * have is an error (the official v460 files have none: such a row means a mismatched file). */

static uint32_t known_fiche(loader *L, const csv_table *t, size_t row, size_t col, int *rc) {
    const char *code = csv_table_field(t, row, col);
    uint32_t f = fiche_id(L, code);
    if (f == ROME_NONE)
        *rc = csv_table_field_error(
            t, row, col, L->err, "unknown fiche '%.20s' (not in unix_referentiel_code_rome)", code);
    return f;
}

typedef struct text_row {
    uint32_t fiche, bloc, position, line, row;
} text_row;

static int cmp_text_row(const void *a, const void *b) {
    const text_row *x = a, *y = b;
    if (x->fiche != y->fiche) return x->fiche < y->fiche ? -1 : 1;
    if (x->bloc != y->bloc) return x->bloc < y->bloc ? -1 : 1;
    return (x->position > y->position) - (x->position < y->position);
}

/* Appends s to buf (grown as needed), undoing the export's doubled apostrophes: every apostrophe
 * of unix_texte v460 is written "''" (an SQL escape left in), none single. */
static int append_sentence(char **buf, size_t *len, size_t *cap, const char *s) {
    size_t n = strlen(s);
    if (*len + n + 2 > *cap) {
        size_t ncap = *cap ? *cap : 1024;
        while (ncap < *len + n + 2) ncap *= 2;
        char *nb = realloc(*buf, ncap);
        if (!nb) return -1;
        *buf = nb;
        *cap = ncap;
    }
    if (*len) (*buf)[(*len)++] = '\n';
    for (size_t i = 0; i < n; i++) {
        (*buf)[(*len)++] = s[i];
        if (s[i] == '\'' && s[i + 1] == '\'') i++;
    }
    (*buf)[*len] = '\0';
    return 0;
}

static int load_texts(loader *L) {
    enum { C_ROME, C_BLOC, C_POS, C_TEXT, N_COLS };
    static const char *const cols[] = {"code_rome", "code_compo_bloc", "position_phrase",
                                       "libelle_texte"};
    csv_table *t;
    if (open_optional(L, "texte", cols, N_COLS, ROME_OPT_TEXTE, &t)) return -1;
    if (!t) return 0;
    size_t n = csv_table_rows(t);
    text_row *rows = malloc((n ? n : 1) * sizeof *rows);
    int rc = rows ? 0 : oom(L);
    for (size_t r = 0; !rc && r < n; r++) {
        text_row *x = &rows[r];
        x->fiche = known_fiche(L, t, r, C_ROME, &rc);
        if (rc || csv_table_u32(t, r, C_BLOC, &x->bloc, L->err) ||
            csv_table_u32(t, r, C_POS, &x->position, L->err)) {
            rc = -1;
            break;
        }
        if (x->bloc != 3 && x->bloc != 4)
            rc = csv_table_field_error(t, r, C_BLOC, L->err,
                                       "%u, expected 3 (definition) or 4 (accès au métier)",
                                       x->bloc);
        x->line = csv_table_line(t, r);
        x->row = (uint32_t)r;
    }
    if (!rc) sort_n(rows, n, sizeof *rows, cmp_text_row);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (i && !cmp_text_row(&rows[i - 1], &rows[i])) {
            rc = px_error_set(
                L->err, PX_EINVAL,
                "%s: lines %u and %u: fiche %s has two sentences at position_phrase %u "
                "of bloc %u (positions must be unique)",
                csv_table_path(t),
                rows[i - 1].line < rows[i].line ? rows[i - 1].line : rows[i].line,
                rows[i - 1].line < rows[i].line ? rows[i].line : rows[i - 1].line,
                ((rome_fiche *)L->fiches.v)[rows[i].fiche].code, rows[i].position, rows[i].bloc);
            break;
        }
        if (append_sentence(&buf, &len, &cap, csv_table_field(t, rows[i].row, C_TEXT))) {
            rc = oom(L);
            break;
        }
        int last =
            i + 1 == n || rows[i + 1].fiche != rows[i].fiche || rows[i + 1].bloc != rows[i].bloc;
        if (!last) continue;
        rome_fiche *f = (rome_fiche *)L->fiches.v + rows[i].fiche;
        rc = add_label(L, rows[i].bloc == 3 ? &f->definition : &f->acces, buf);
        len = 0;
    }
    free(buf);
    free(rows);
    csv_table_free(t);
    return rc;
}

static int riasec_letter(loader *L, const csv_table *t, size_t row, size_t col, char *out) {
    const char *s = csv_table_field(t, row, col);
    if (s[0] && !s[1] && strchr("RIASEC", s[0]))
        *out = s[0];
    else if (*s)
        return csv_table_field_error(t, row, col, L->err,
                                     "'%.20s', expected one of R I A S E C or empty", s);
    return 0;
}

static int load_riasec(loader *L) {
    enum { C_ROME, C_MAJ, C_MIN, N_COLS };
    static const char *const cols[] = {"code_rome", "riasec_majeur", "riasec_mineur"};
    csv_table *t;
    if (open_optional(L, "referentiel_code_rome_riasec", cols, N_COLS, ROME_OPT_RIASEC, &t))
        return -1;
    if (!t) return 0;
    uint32_t *seen = calloc(L->fiches.n + 1, sizeof *seen); /* line of each fiche's row, 0 = none */
    int rc = seen ? 0 : oom(L);
    for (size_t r = 0; !rc && r < csv_table_rows(t); r++) {
        uint32_t f = known_fiche(L, t, r, C_ROME, &rc);
        if (rc) break;
        if (seen[f]) {
            rc = px_error_set(
                L->err, PX_EINVAL, "%s: fiche %s on lines %u and %u (one RIASEC row per fiche)",
                csv_table_path(t), csv_table_field(t, r, C_ROME), seen[f], csv_table_line(t, r));
            break;
        }
        seen[f] = csv_table_line(t, r);
        char *ri = ((rome_fiche *)L->fiches.v)[f].riasec;
        rc = riasec_letter(L, t, r, C_MAJ, &ri[0]) || riasec_letter(L, t, r, C_MIN, &ri[1]);
        if (!rc && !ri[0] && ri[1])
            rc = csv_table_field_error(
                t, r, C_MAJ, L->err, "empty while riasec_mineur is '%c', expected a letter", ri[1]);
    }
    free(seen);
    csv_table_free(t);
    return rc;
}

typedef struct tag_row {
    rome_tag tag; /* family, code, label */
    uint32_t fiche;
    uint32_t line;
    uint8_t importance;
} tag_row;

/* A tag code as in the file: 1 to 7 ASCII letters or digits ("1", "001", "110"). */
static int tag_code(loader *L, const csv_table *t, size_t row, size_t col, char out[8]) {
    const char *s = csv_table_field(t, row, col);
    size_t n = strlen(s);
    int ok = n >= 1 && n < 8;
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= 'a' && s[i] <= 'z');
    if (!ok)
        return csv_table_field_error(t, row, col, L->err,
                                     "'%.40s', expected a code of 1 to 7 letters or digits", s);
    memset(out, 0, 8);
    memcpy(out, s, n);
    return 0;
}

static int principal(loader *L, const csv_table *t, size_t row, size_t col, uint8_t *imp) {
    const char *s = csv_table_field(t, row, col);
    if (!strcmp(s, "oui"))
        *imp = ROME_IMPORTANCE_PRINCIPALE;
    else if (!strcmp(s, "non"))
        *imp = ROME_IMPORTANCE_NONE;
    else
        return csv_table_field_error(t, row, col, L->err, "'%.20s', expected 'oui' or 'non'", s);
    return 0;
}

static int push_tag(loader *L, const csv_table *t, size_t row, rome_tag_family family,
                    size_t code_col, size_t label_col, uint32_t fiche, uint8_t importance) {
    tag_row *x = vec_push(&L->tag_rows);
    if (!x) return oom(L);
    x->tag.family = family;
    x->fiche = fiche;
    x->line = csv_table_line(t, row);
    x->importance = importance;
    return tag_code(L, t, row, code_col, x->tag.code) ||
           add_label(L, &x->tag.label, csv_table_field(t, row, label_col));
}

/* One arborescence file: `code`, `label` and, when the file has them, `sub_code`/`sub_label` (the
 * sous-secteur, empty on the secteur's own row) and `principal`. */
typedef struct tag_file {
    const char *stem;
    uint32_t bit;
    rome_tag_family family, sub_family;
    const char *cols[6]; /* code, label, code_rome, principal or NULL, sub code, sub label */
} tag_file;

static int load_tag_file(loader *L, const tag_file *tf) {
    enum { C_CODE, C_LABEL, C_ROME, C_PRINCIPAL, C_SUB, C_SUB_LABEL };
    size_t n_cols = tf->cols[C_PRINCIPAL] ? (tf->cols[C_SUB] ? 6 : 4) : 3;
    csv_table *t;
    if (open_optional(L, tf->stem, tf->cols, n_cols, tf->bit, &t)) return -1;
    if (!t) return 0;
    int rc = 0;
    for (size_t r = 0; !rc && r < csv_table_rows(t); r++) {
        uint8_t imp = ROME_IMPORTANCE_NONE;
        uint32_t f = known_fiche(L, t, r, C_ROME, &rc);
        if (rc || (n_cols > 3 && principal(L, t, r, C_PRINCIPAL, &imp))) {
            rc = -1;
            break;
        }
        /* A sous-secteur row also ties the fiche to its secteur; "principal" there, if ever set,
         * is the secteur's as much as the sous-secteur's. */
        rc = push_tag(L, t, r, tf->family, C_CODE, C_LABEL, f, imp) ||
             (n_cols == 6 && *csv_table_field(t, r, C_SUB) &&
              push_tag(L, t, r, tf->sub_family, C_SUB, C_SUB_LABEL, f, imp));
    }
    csv_table_free(t);
    return rc;
}

static int cmp_tag(const void *a, const void *b) {
    const rome_tag *x = a, *y = b;
    if (x->family != y->family) return x->family < y->family ? -1 : 1;
    return strncmp(x->code, y->code, sizeof x->code);
}

static int cmp_tag_row(const void *a, const void *b) {
    int c = cmp_tag(a, b);
    if (c) return c;
    const tag_row *x = a, *y = b;
    return (x->line > y->line) - (x->line < y->line);
}

static const char *tag_file_stem(rome_tag_family family) {
    switch (family) {
    case ROME_TAG_CENTRE_INTERET: return "arborescence_centre_interet";
    case ROME_TAG_SECTEUR:
    case ROME_TAG_SOUS_SECTEUR: return "arborescence_secteur_activite";
    case ROME_TAG_THEME: return "arborescence_thematique";
    }
    return "?";
}

/* Tags are numbered in (family, code) order; a code must keep one label throughout its file.
 * Repeated (fiche, tag) pairs (a secteur is listed once per sous-secteur) fold into one link
 * that is principal if any of them is. */
static int finish_tags(loader *L) {
    tag_row *rows = L->tag_rows.v;
    size_t n = L->tag_rows.n;
    if (n == 0) return 0; /* no arborescence file: no tags */
    sort_n(rows, n, sizeof *rows, cmp_tag_row);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || cmp_tag(&rows[i - 1].tag, &rows[i].tag)) {
            rome_tag *tag = vec_push(&L->tags);
            if (!tag) return oom(L);
            *tag = rows[i].tag;
        } else if (rows[i - 1].tag.label != rows[i].tag.label) {
            return px_error_set(
                L->err, PX_EINVAL,
                "%s/unix_%s_%s_utf8.csv: lines %u and %u: %s code '%s' has two labels ('%.60s' and "
                "'%.60s'; a code has one label)",
                L->dir, tag_file_stem(rows[i].tag.family), L->suffix, rows[i - 1].line,
                rows[i].line, rome_tag_family_name(rows[i].tag.family), rows[i].tag.code,
                L->pool.bytes + rows[i - 1].tag.label, L->pool.bytes + rows[i].tag.label);
        }
        link *l = vec_push(&L->fiche_tags);
        if (!l) return oom(L);
        *l = (link){rows[i].fiche, (uint32_t)(L->tags.n - 1), rows[i].importance};
    }
    link *v = L->fiche_tags.v;
    sort_n(v, L->fiche_tags.n, sizeof *v, cmp_link);
    size_t w = 0;
    for (size_t i = 0; i < L->fiche_tags.n; i++) {
        if (w && !cmp_link(&v[w - 1], &v[i])) {
            if (v[i].importance > v[w - 1].importance) v[w - 1].importance = v[i].importance;
        } else {
            v[w++] = v[i];
        }
    }
    L->fiche_tags.n = w;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The ESCO–ROME crosswalk (optional). France Travail publishes it apart from the unix_* export,
 * as FR_<date>_mapping_esco_rome.csv: it is the one file of the directory whose name contains
 * "mapping_esco_rome" and ends in ".csv". Metadata lines precede its header. It maps ESCO
 * occupations to ROME V3 appellations, so it may lag the export: a row naming an appellation the
 * export does not have is counted (rome_counts.esco_skipped) and skipped, not refused. */

#define ESCO_NAME_PART    "mapping_esco_rome"
#define ESCO_MAX_PREAMBLE 64 /* the V1.4 file has 16 metadata lines; room for a longer one */
#define ESCO_URI_PREFIX   "http://data.europa.eu/esco/occupation/"

typedef struct esco_row {
    uint32_t source; /* appellation id, then fiche id for the fiche union */
    uint32_t uri;    /* string-pool offset */
    uint32_t line;
    uint8_t relation;
} esco_row;

/* Finds the crosswalk in L->dir: *path = "" when there is none; two are refused as ambiguous. */
static int find_crosswalk(loader *L, char *path, size_t cap) {
    DIR *d = opendir(L->dir);
    if (!d) return px_error_set(L->err, PX_EIO, "%s: cannot open the ROME directory", L->dir);
    struct dirent *e;
    int rc = 0;
    *path = '\0';
    while (!rc && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (!strstr(e->d_name, ESCO_NAME_PART) || n < 4 || strcmp(e->d_name + n - 4, ".csv") != 0)
            continue;
        if (*path)
            rc = px_error_set(L->err, PX_EINVAL,
                              "%s: holds two ESCO crosswalks (%s and %s); keep one per directory",
                              L->dir, strrchr(path, '/') + 1, e->d_name);
        else
            snprintf(path, cap, "%s/%s", L->dir, e->d_name);
    }
    closedir(d);
    return rc;
}

/* An ESCO occupation URI: the prefix, then a UUID in lowercase hex (8-4-4-4-12). */
static int esco_uri(loader *L, const csv_table *t, size_t row, size_t col) {
    const char *s = csv_table_field(t, row, col);
    size_t plen = strlen(ESCO_URI_PREFIX);
    int ok = !strncmp(s, ESCO_URI_PREFIX, plen) && strlen(s) == plen + 36;
    for (size_t i = 0; ok && i < 36; i++) {
        char c = s[plen + i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        ok = (i == 8 || i == 13 || i == 18 || i == 23) ? c == '-' : hex;
    }
    if (!ok)
        return csv_table_field_error(t, row, col, L->err,
                                     "'%.80s' is not an ESCO occupation URI (expected "
                                     "%s<uuid>, lowercase)",
                                     s, ESCO_URI_PREFIX);
    return 0;
}

static int esco_relation(loader *L, const csv_table *t, size_t row, size_t col, uint8_t *out) {
    static const char *const names[] = {"skos:exactMatch", "skos:closeMatch", "skos:broadMatch",
                                        "skos:narrowMatch"};
    const char *s = csv_table_field(t, row, col);
    for (uint8_t k = 0; k < 4; k++) {
        if (!strcmp(s, names[k])) {
            *out = k; /* names[] is in rome_esco_relation order */
            return 0;
        }
    }
    return csv_table_field_error(t, row, col, L->err,
                                 "'%.40s', expected skos:exactMatch, skos:closeMatch, "
                                 "skos:broadMatch or skos:narrowMatch",
                                 s);
}

static int cmp_esco_uri(const void *a, const void *b) {
    const esco_row *x = a, *y = b;
    if (x->source != y->source) return x->source < y->source ? -1 : 1;
    if (x->uri != y->uri) return x->uri < y->uri ? -1 : 1;
    if (x->relation != y->relation) return x->relation < y->relation ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static int cmp_esco_order(const void *a, const void *b) {
    const esco_row *x = a, *y = b;
    if (x->source != y->source) return x->source < y->source ? -1 : 1;
    if (x->relation != y->relation) return x->relation < y->relation ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* Folds rows (reordered in place) into a CSR: each URI once per source with its best relation
 * (at its first line with that relation), then ordered by relation and line. */
static int esco_csr(loader *L, esco_row *rows, size_t n, uint32_t n_sources, esco_links *out) {
    size_t w = 0;
    if (n) {
        sort_n(rows, n, sizeof *rows, cmp_esco_uri);
        for (size_t i = 0; i < n; i++)
            if (!w || rows[w - 1].source != rows[i].source || rows[w - 1].uri != rows[i].uri)
                rows[w++] = rows[i];
        sort_n(rows, w, sizeof *rows, cmp_esco_order);
    }
    out->offsets = calloc((size_t)n_sources + 1, sizeof *out->offsets);
    out->links = calloc(w ? w : 1, sizeof *out->links);
    if (!out->offsets || !out->links) return oom(L);
    for (size_t i = 0; i < w; i++) {
        out->offsets[rows[i].source + 1]++;
        out->links[i] = (rome_esco_link){.uri = rows[i].uri, .relation = rows[i].relation};
    }
    for (uint32_t s = 0; s < n_sources; s++) out->offsets[s + 1] += out->offsets[s];
    out->n = (uint32_t)w;
    return 0;
}

/* Reads the crosswalk if there is one; builds both CSRs either way (empty without it). */
static int load_esco(loader *L) {
    enum { C_URI, C_APP, C_REL, N_COLS };
    static const char *const cols[] = {"classification 1 ID", "classification 2 ID",
                                       "mapping relation"};
    char path[4096];
    if (find_crosswalk(L, path, sizeof path)) return -1;
    csv_table *t = NULL;
    if (*path) {
        csv_table_options opts = {.max_preamble = ESCO_MAX_PREAMBLE};
        if (!(t = csv_table_read_opts(path, cols, N_COLS, &opts, L->err))) return -1;
        L->optional_files |= ROME_OPT_ESCO;
    }
    size_t n = t ? csv_table_rows(t) : 0;
    esco_row *rows = malloc((n ? n : 1) * sizeof *rows);
    int rc = rows ? 0 : oom(L);
    size_t kept = 0;
    for (size_t r = 0; !rc && r < n; r++) {
        uint32_t code;
        esco_row *x = &rows[kept];
        if (csv_table_u32(t, r, C_APP, &code, L->err) ||
            esco_relation(L, t, r, C_REL, &x->relation) || esco_uri(L, t, r, C_URI)) {
            rc = -1;
            break;
        }
        L->esco_rows++;
        rome_appellation key = {.code_ogr = code};
        rome_appellation *a =
            find_n(&key, L->appellations.v, L->appellations.n, L->appellations.elem, cmp_u32_key);
        if (!a) {
            L->esco_skipped++;
            continue;
        }
        x->source = (uint32_t)(a - (rome_appellation *)L->appellations.v);
        x->line = csv_table_line(t, r);
        rc = add_label(L, &x->uri, csv_table_field(t, r, C_URI));
        kept++;
    }
    csv_table_free(t);
    if (!rc) rc = esco_csr(L, rows, kept, (uint32_t)L->appellations.n, &L->app_esco);
    /* The fiche union: the same rows keyed by the appellation's fiche, folded again. */
    for (size_t i = 0; !rc && i < kept; i++)
        rows[i].source = ((rome_appellation *)L->appellations.v)[rows[i].source].fiche;
    if (!rc) rc = esco_csr(L, rows, kept, (uint32_t)L->fiches.n, &L->fiche_esco);
    free(rows);
    return rc;
}

static int load_optional_files(loader *L) {
    static const tag_file files[] = {
        {"arborescence_centre_interet",
         ROME_OPT_CENTRE_INTERET,
         ROME_TAG_CENTRE_INTERET,
         ROME_TAG_CENTRE_INTERET,
         {"code_centre_interet", "libelle_centre_interet", "code_rome", "principal", NULL, NULL}},
        {"arborescence_secteur_activite",
         ROME_OPT_SECTEUR,
         ROME_TAG_SECTEUR,
         ROME_TAG_SOUS_SECTEUR,
         {"code_sect_activite", "libelle_sect_activite", "code_rome", "principal",
          "code_ss_sect_activite", "libelle_ss_sect_activite"}},
        {"arborescence_thematique",
         ROME_OPT_THEME,
         ROME_TAG_THEME,
         ROME_TAG_THEME,
         {"code_theme", "libelle_theme", "code_rome", NULL, NULL, NULL}},
    };
    if (load_texts(L) || load_riasec(L)) return -1;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (load_tag_file(L, &files[i])) return -1;
    return finish_tags(L) || load_esco(L);
}

/* Builds the CSR of `links` keyed by `from` (forward) or by `to` (inverse), targets sorted. */
static int build_csr(loader *L, const vec *links, uint32_t n_sources, bool inverse,
                     bool with_importance, uint32_t **offsets, uint32_t **targets,
                     uint8_t **importance) {
    size_t n = links->n;
    const link *v = links->v;
    *offsets = calloc((size_t)n_sources + 1, sizeof **offsets);
    *targets = malloc((n ? n : 1) * sizeof **targets);
    *importance = with_importance ? malloc(n ? n : 1) : NULL;
    uint32_t *fill = calloc((size_t)n_sources + 1, sizeof *fill);
    if (!*offsets || !*targets || (with_importance && !*importance) || !fill) {
        free(fill);
        return oom(L);
    }
    for (size_t i = 0; i < n; i++) (*offsets)[(inverse ? v[i].to : v[i].from) + 1]++;
    for (uint32_t s = 0; s < n_sources; s++) (*offsets)[s + 1] += (*offsets)[s];
    /* links are sorted by (from, to), so filling in order keeps every row sorted either way. */
    for (size_t i = 0; i < n; i++) {
        uint32_t s = inverse ? v[i].to : v[i].from;
        uint32_t at = (*offsets)[s] + fill[s]++;
        (*targets)[at] = inverse ? v[i].from : v[i].to;
        if (with_importance) (*importance)[at] = v[i].importance;
    }
    free(fill);
    return 0;
}

static rome_index *assemble(loader *L, uint32_t major, uint32_t version) {
    rome_index loose;
    memset(&loose, 0, sizeof loose);
    loose.rome_major = major;
    loose.rome_version = version;
    rome_counts *n = &loose.n;
    n->fiches = (uint32_t)L->fiches.n;
    n->appellations = (uint32_t)L->appellations.n;
    n->items = (uint32_t)L->items.n;
    n->contextes = (uint32_t)L->contextes.n;
    n->grands_domaines = (uint32_t)L->grands_domaines.n;
    n->domaines = (uint32_t)L->domaines.n;
    n->comp_domaines = (uint32_t)L->comp_domaines.n;
    n->enjeux = (uint32_t)L->enjeux.n;
    for (size_t i = 0; i < L->items.n; i++) {
        const rome_item *it = (rome_item *)L->items.v + i;
        if (it->kind == ROME_KIND_SAVOIR)
            n->savoirs++;
        else
            n->competences++;
        if (it->flags & ROME_ITEM_MACRO) n->macro_competences++;
    }
    n->fiche_item_links = (uint32_t)L->fiche_items.n;
    n->fiche_contexte_links = (uint32_t)L->fiche_contextes.n;
    n->strings_bytes = (uint32_t)L->pool.len;
    n->tags = (uint32_t)L->tags.n;
    n->fiche_tag_links = (uint32_t)L->fiche_tags.n;
    n->optional_files = L->optional_files;
    n->esco_rows = L->esco_rows;
    n->esco_skipped = L->esco_skipped;
    n->esco_appellation_links = L->app_esco.n;
    n->esco_fiche_links = L->fiche_esco.n;
    loose.appellation_esco = (rome_esco_csr){L->app_esco.offsets, L->app_esco.links};
    loose.fiche_esco = (rome_esco_csr){L->fiche_esco.offsets, L->fiche_esco.links};
    loose.fiches = L->fiches.v;
    loose.grands_domaines = L->grands_domaines.v;
    loose.domaines = L->domaines.v;
    loose.appellations = L->appellations.v;
    loose.items = L->items.v;
    loose.comp_domaines = L->comp_domaines.v;
    loose.enjeux = L->enjeux.v;
    loose.contextes = L->contextes.v;
    loose.tags = L->tags.v;
    loose.strings = L->pool.bytes;

    /* Appellations are sorted by code_ogr; their fiche CSR is built like any link set. */
    vec app_links = {.elem = sizeof(link)};
    for (size_t i = 0; i < L->appellations.n; i++) {
        link *l = vec_push(&app_links);
        if (!l) {
            free(app_links.v);
            oom(L);
            return NULL;
        }
        *l = (link){((rome_appellation *)L->appellations.v)[i].fiche, (uint32_t)i, 0};
    }
    sort_n(app_links.v, app_links.n, sizeof(link), cmp_link);

    enum { N_CSR = 7 };
    uint32_t *off[N_CSR] = {0}, *tgt[N_CSR] = {0};
    uint8_t *imp[N_CSR] = {0};
    int rc =
        build_csr(L, &L->fiche_items, n->fiches, false, true, &off[0], &tgt[0], &imp[0]) ||
        build_csr(L, &L->fiche_items, n->items, true, true, &off[1], &tgt[1], &imp[1]) ||
        build_csr(L, &L->fiche_contextes, n->fiches, false, false, &off[2], &tgt[2], &imp[2]) ||
        build_csr(L, &L->fiche_contextes, n->contextes, true, false, &off[3], &tgt[3], &imp[3]) ||
        build_csr(L, &app_links, n->fiches, false, false, &off[4], &tgt[4], &imp[4]) ||
        build_csr(L, &L->fiche_tags, n->fiches, false, true, &off[5], &tgt[5], &imp[5]) ||
        build_csr(L, &L->fiche_tags, n->tags, true, true, &off[6], &tgt[6], &imp[6]);
    free(app_links.v);
    rome_index *idx = NULL;
    if (!rc) {
        rome_csr *csr[N_CSR] = {&loose.fiche_items,        &loose.item_fiches,
                                &loose.fiche_contextes,    &loose.contexte_fiches,
                                &loose.fiche_appellations, &loose.fiche_tags,
                                &loose.tag_fiches};
        for (int i = 0; i < N_CSR; i++) *csr[i] = (rome_csr){off[i], tgt[i], imp[i]};
        idx = rome_index_pack(&loose);
        if (!idx) oom(L);
    }
    for (int i = 0; i < N_CSR; i++) {
        free(off[i]);
        free(tgt[i]);
        free(imp[i]);
    }
    return idx;
}

static void loader_free(loader *L) {
    vec *all[] = {&L->grands_domaines, &L->domaines,    &L->fiches,
                  &L->appellations,    &L->items,       &L->comp_domaines,
                  &L->enjeux,          &L->contextes,   &L->fiche_items,
                  &L->fiche_contextes, &L->macro_refs,  &L->macro_enjeu_codes,
                  &L->item_lines,      &L->fiche_lines, &L->app_lines,
                  &L->ctx_lines,       &L->tag_rows,    &L->tags,
                  &L->fiche_tags};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]->v);
    esco_links *esco[] = {&L->app_esco, &L->fiche_esco};
    for (size_t i = 0; i < 2; i++) {
        free(esco[i]->offsets);
        free(esco[i]->links);
    }
    free(L->pool.bytes);
    free(L->pool.slots);
}

rome_index *rome_load_csv(const char *dir, rome_load_report *report, px_error *err) {
    rome_load_report scratch;
    loader L = {
        .dir = dir,
        .report = report ? report : &scratch,
        .err = err,
        .grands_domaines = {.elem = sizeof(rome_grand_domaine)},
        .domaines = {.elem = sizeof(rome_domaine)},
        .fiches = {.elem = sizeof(rome_fiche)},
        .appellations = {.elem = sizeof(rome_appellation)},
        .items = {.elem = sizeof(rome_item)},
        .comp_domaines = {.elem = sizeof(rome_comp_domaine)},
        .enjeux = {.elem = sizeof(rome_enjeu)},
        .contextes = {.elem = sizeof(rome_contexte)},
        .fiche_items = {.elem = sizeof(link)},
        .fiche_contextes = {.elem = sizeof(link)},
        .macro_refs = {.elem = sizeof(uint32_t)},
        .macro_enjeu_codes = {.elem = 4},
        .item_lines = {.elem = 4},
        .fiche_lines = {.elem = 4},
        .app_lines = {.elem = 4},
        .ctx_lines = {.elem = 4},
        .tag_rows = {.elem = sizeof(tag_row)},
        .tags = {.elem = sizeof(rome_tag)},
        .fiche_tags = {.elem = sizeof(link)},
    };
    memset(L.report, 0, sizeof *L.report);
    uint32_t major = 0, version = 0;
    rome_index *idx = NULL;
    /* Offset 0 of the pool is the empty string, so a zeroed label reads as "". */
    if (pool_add(&L.pool, "") == UINT32_MAX)
        oom(&L);
    else if (!detect_version(&L, &major, &version) && !load_domains(&L) && !load_fiches(&L) &&
             !load_appellations(&L) && !load_hierarchy(&L) && !load_competences(&L) &&
             !load_savoirs(&L) && !finish_items(&L) && !load_contextes(&L) && !load_links(&L) &&
             !load_coherence(&L) && !load_optional_files(&L))
        idx = assemble(&L, major, version);
    loader_free(&L);
    return idx;
}
