#include "rome_snapshot.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

static const char SNAPSHOT_MAGIC[8] = {'P', 'X', 'R', 'O', 'M', 'E', '\0', '\1'};
#define ENDIAN_MARK 0x01020304u

typedef struct snapshot_header {
    char magic[8];
    uint32_t format;
    uint32_t endian; /* ENDIAN_MARK as written: refuses images from another byte order */
    uint32_t rome_major;
    uint32_t rome_version;
    uint32_t n_sections;
    uint32_t reserved;
    uint64_t body_size; /* bytes after this header: section table + payload */
    uint64_t checksum;  /* XXH3-64 of the whole image with this field zeroed */
    rome_counts counts;
} snapshot_header;

typedef struct snapshot_section {
    uint32_t id;
    uint32_t elem_size;
    uint64_t count;
    uint64_t offset; /* from the start of the image */
    uint64_t size;   /* count * elem_size (the payload is padded to 8 bytes after it) */
} snapshot_section;

#define PAYLOAD_START ALIGN8(sizeof(snapshot_header) + ROME_SEC_COUNT * sizeof(snapshot_section))

int rome_snapshot_encode(const rome_index *idx, void **out, size_t *out_len, px_error *err) {
    rome_index copy = *idx;
    rome_section sec[ROME_SEC_COUNT];
    rome_index_sections(&copy, sec);
    size_t total = PAYLOAD_START + rome_index_storage_size(&copy);
    unsigned char *buf = calloc(1, total);
    if (!buf) return px_error_set(err, PX_ENOMEM, "snapshot: out of memory (%zu bytes)", total);
    snapshot_section *table = (snapshot_section *)(buf + sizeof(snapshot_header));
    size_t at = PAYLOAD_START;
    for (int i = 0; i < ROME_SEC_COUNT; i++) {
        size_t size = sec[i].count * sec[i].elem_size;
        table[i] = (snapshot_section){sec[i].id, sec[i].elem_size, sec[i].count, at, size};
        if (size) memcpy(buf + at, *sec[i].field, size);
        at += ALIGN8(size);
    }
    snapshot_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, SNAPSHOT_MAGIC, sizeof h.magic);
    h.format = ROME_SNAPSHOT_FORMAT;
    h.endian = ENDIAN_MARK;
    h.rome_major = idx->rome_major;
    h.rome_version = idx->rome_version;
    h.n_sections = ROME_SEC_COUNT;
    h.body_size = total - sizeof h;
    h.counts = idx->n;
    memcpy(buf, &h, sizeof h);
    h.checksum = XXH3_64bits(buf, total);
    memcpy(buf, &h, sizeof h);
    *out = buf;
    *out_len = total;
    return 0;
}

/* True when p[from..to) are all zero. */
static bool zeros(const unsigned char *p, size_t from, size_t to) {
    for (size_t b = from; b < to; b++)
        if (p[b]) return false;
    return true;
}

/* --- Validation: nothing in an image is trusted until every reference is in bounds. -------- */

static int check_csr(const rome_csr *csr, uint32_t n_sources, uint32_t n_targets_total,
                     uint32_t n_target_space, const char *name, px_error *err) {
    if (csr->offsets[0] != 0 || csr->offsets[n_sources] != n_targets_total)
        return px_error_set(err, PX_EINVAL, "snapshot: %s offsets do not span the %u links", name,
                            n_targets_total);
    for (uint32_t s = 0; s < n_sources; s++) {
        if (csr->offsets[s] > csr->offsets[s + 1])
            return px_error_set(err, PX_EINVAL, "snapshot: %s offsets decrease at source %u", name,
                                s);
        for (uint32_t k = csr->offsets[s]; k < csr->offsets[s + 1]; k++) {
            if (csr->targets[k] >= n_target_space)
                return px_error_set(err, PX_EINVAL,
                                    "snapshot: %s link %u points past the end (%u ≥ %u)", name, k,
                                    csr->targets[k], n_target_space);
            if (k > csr->offsets[s] && csr->targets[k] <= csr->targets[k - 1])
                return px_error_set(err, PX_EINVAL,
                                    "snapshot: %s targets of source %u are not strictly sorted",
                                    name, s);
            if (csr->importance && csr->importance[k] > ROME_IMPORTANCE_PRINCIPALE)
                return px_error_set(err, PX_EINVAL,
                                    "snapshot: %s link %u has importance %u (expected 0..2)", name,
                                    k, csr->importance[k]);
        }
    }
    return 0;
}

static int check_label(uint32_t off, uint32_t pool, const char *what, uint32_t i, px_error *err) {
    if (off >= pool)
        return px_error_set(err, PX_EINVAL,
                            "snapshot: %s %u label offset %u is outside the string pool", what, i,
                            off);
    return 0;
}

static int check_code(const char *code, size_t cap, const char *what, uint32_t i, px_error *err) {
    if (memchr(code, '\0', cap) == NULL)
        return px_error_set(err, PX_EINVAL, "snapshot: %s %u code is not terminated", what, i);
    return 0;
}

/* ESCO links: offsets span the links, each URI offset is inside the pool and not the empty
 * string, relations are known and non-decreasing per source, no URI twice per source (rows are
 * short: the real maximum is 53 per fiche). As for labels, the pool is not read (a random read
 * per link); the checksum covers its bytes. */
static int check_esco(const rome_esco_csr *csr, uint32_t n_sources, uint32_t n_links, uint32_t pool,
                      const char *name, px_error *err) {
    if (csr->offsets[0] != 0 || csr->offsets[n_sources] != n_links)
        return px_error_set(err, PX_EINVAL, "snapshot: %s offsets do not span the %u links", name,
                            n_links);
    for (uint32_t s = 0; s < n_sources; s++) {
        uint32_t lo = csr->offsets[s], hi = csr->offsets[s + 1];
        if (lo > hi)
            return px_error_set(err, PX_EINVAL, "snapshot: %s offsets decrease at source %u", name,
                                s);
        for (uint32_t k = lo; k < hi; k++) {
            const rome_esco_link *l = &csr->links[k];
            if (l->uri == 0 || l->uri >= pool)
                return px_error_set(err, PX_EINVAL,
                                    "snapshot: %s link %u: URI offset %u is "
                                    "outside the string pool",
                                    name, k, l->uri);
            if (l->relation > ROME_ESCO_NARROW || l->reserved[0] || l->reserved[1] ||
                l->reserved[2])
                return px_error_set(err, PX_EINVAL, "snapshot: %s link %u has relation %u", name, k,
                                    l->relation);
            if (k > lo && l->relation < csr->links[k - 1].relation)
                return px_error_set(err, PX_EINVAL,
                                    "snapshot: %s links of source %u are not "
                                    "ordered by relation",
                                    name, s);
            for (uint32_t j = lo; j < k; j++)
                if (csr->links[j].uri == l->uri)
                    return px_error_set(err, PX_EINVAL,
                                        "snapshot: %s source %u lists a URI "
                                        "twice",
                                        name, s);
        }
    }
    return 0;
}

static int validate(const rome_index *idx, px_error *err) {
    const rome_counts *n = &idx->n;
    uint32_t pool = n->strings_bytes;
    if (pool == 0 || idx->strings[pool - 1] != '\0' || idx->strings[0] != '\0')
        return px_error_set(err, PX_EINVAL, "snapshot: the string pool is not NUL-framed");
    for (uint32_t i = 0; i < n->fiches; i++) {
        const rome_fiche *f = &idx->fiches[i];
        if (check_code(f->code, sizeof f->code, "fiche", i, err) ||
            check_label(f->label, pool, "fiche", i, err))
            return -1;
        if (f->domaine >= n->domaines || f->grand_domaine >= n->grands_domaines)
            return px_error_set(err, PX_EINVAL, "snapshot: fiche %u has an unknown domaine", i);
        if (i && strcmp(idx->fiches[i - 1].code, f->code) >= 0)
            return px_error_set(err, PX_EINVAL, "snapshot: fiches are not sorted by code at %u", i);
        if (check_code(f->parent, sizeof f->parent, "fiche parent", i, err) ||
            check_code(f->riasec, sizeof f->riasec, "fiche riasec", i, err) ||
            check_label(f->definition, pool, "fiche definition", i, err) ||
            check_label(f->acces, pool, "fiche acces", i, err))
            return -1;
    }
    for (uint32_t i = 0; i < n->grands_domaines; i++)
        if (check_code(idx->grands_domaines[i].code, 4, "grand domaine", i, err) ||
            check_label(idx->grands_domaines[i].label, pool, "grand domaine", i, err))
            return -1;
    for (uint32_t i = 0; i < n->domaines; i++)
        if (check_code(idx->domaines[i].code, 4, "domaine", i, err) ||
            check_label(idx->domaines[i].label, pool, "domaine", i, err) ||
            (idx->domaines[i].grand_domaine >= n->grands_domaines &&
             px_error_set(err, PX_EINVAL, "snapshot: domaine %u has an unknown grand domaine", i)))
            return -1;
    for (uint32_t i = 0; i < n->appellations; i++) {
        const rome_appellation *a = &idx->appellations[i];
        if (check_label(a->label_long, pool, "appellation", i, err) ||
            check_label(a->label_short, pool, "appellation", i, err))
            return -1;
        if (a->fiche >= n->fiches)
            return px_error_set(err, PX_EINVAL, "snapshot: appellation %u points to no fiche", i);
        if (i && idx->appellations[i - 1].code_ogr >= a->code_ogr)
            return px_error_set(err, PX_EINVAL,
                                "snapshot: appellations are not sorted by code at %u", i);
    }
    for (uint32_t i = 0; i < n->items; i++) {
        const rome_item *it = &idx->items[i];
        if (check_label(it->label, pool, "item", i, err) ||
            check_label(it->category, pool, "item", i, err) ||
            check_label(it->subcategory, pool, "item", i, err))
            return -1;
        if ((it->macro != ROME_NONE && it->macro >= n->items) ||
            (it->enjeu != ROME_NONE && it->enjeu >= n->enjeux) || it->kind > ROME_KIND_SAVOIR)
            return px_error_set(err, PX_EINVAL,
                                "snapshot: item %u has an out-of-range macro, enjeu or kind", i);
        if (i && idx->items[i - 1].code_ogr >= it->code_ogr)
            return px_error_set(err, PX_EINVAL, "snapshot: items are not sorted by code at %u", i);
    }
    for (uint32_t i = 0; i < n->comp_domaines; i++)
        if (check_code(idx->comp_domaines[i].code, 4, "competence domaine", i, err) ||
            check_label(idx->comp_domaines[i].label, pool, "competence domaine", i, err))
            return -1;
    for (uint32_t i = 0; i < n->enjeux; i++) {
        const rome_enjeu *e = &idx->enjeux[i];
        if (check_code(e->code, 4, "enjeu", i, err) || check_label(e->label, pool, "enjeu", i, err))
            return -1;
        if (e->comp_domaine != ROME_NONE && e->comp_domaine >= n->comp_domaines)
            return px_error_set(err, PX_EINVAL, "snapshot: enjeu %u has an unknown domaine", i);
    }
    for (uint32_t i = 0; i < n->contextes; i++) {
        const rome_contexte *c = &idx->contextes[i];
        if (check_label(c->label, pool, "contexte", i, err) ||
            check_label(c->type_label, pool, "contexte", i, err))
            return -1;
        if (i && idx->contextes[i - 1].code_ogr >= c->code_ogr)
            return px_error_set(err, PX_EINVAL, "snapshot: contextes are not sorted by code at %u",
                                i);
    }
    for (uint32_t i = 0; i < n->tags; i++) {
        const rome_tag *t = &idx->tags[i];
        if (check_code(t->code, sizeof t->code, "tag", i, err) ||
            check_label(t->label, pool, "tag", i, err))
            return -1;
        if (t->family >= ROME_TAG_FAMILIES)
            return px_error_set(err, PX_EINVAL, "snapshot: tag %u has family %u", i, t->family);
        if (i && (idx->tags[i - 1].family > t->family ||
                  (idx->tags[i - 1].family == t->family &&
                   strncmp(idx->tags[i - 1].code, t->code, 8) >= 0)))
            return px_error_set(err, PX_EINVAL,
                                "snapshot: tags are not sorted by (family, code) at %u", i);
    }
    return check_csr(&idx->fiche_items, n->fiches, n->fiche_item_links, n->items, "fiche→item",
                     err) ||
           check_csr(&idx->item_fiches, n->items, n->fiche_item_links, n->fiches, "item→fiche",
                     err) ||
           check_csr(&idx->fiche_contextes, n->fiches, n->fiche_contexte_links, n->contextes,
                     "fiche→contexte", err) ||
           check_csr(&idx->contexte_fiches, n->contextes, n->fiche_contexte_links, n->fiches,
                     "contexte→fiche", err) ||
           check_csr(&idx->fiche_appellations, n->fiches, n->appellations, n->appellations,
                     "fiche→appellation", err) ||
           check_csr(&idx->fiche_tags, n->fiches, n->fiche_tag_links, n->tags, "fiche→tag", err) ||
           check_csr(&idx->tag_fiches, n->tags, n->fiche_tag_links, n->fiches, "tag→fiche", err) ||
           check_esco(&idx->appellation_esco, n->appellations, n->esco_appellation_links, pool,
                      "appellation→ESCO", err) ||
           check_esco(&idx->fiche_esco, n->fiches, n->esco_fiche_links, pool, "fiche→ESCO", err);
}

rome_index *rome_snapshot_adopt(void *buf, size_t len, px_error *err) {
    snapshot_header h;
    rome_index *idx = NULL;
    if (len < PAYLOAD_START) {
        px_error_set(err, PX_EINVAL,
                     "snapshot: %zu bytes is too short to be a ROME snapshot (truncated?)", len);
        goto fail;
    }
    memcpy(&h, buf, sizeof h);
    if (memcmp(h.magic, SNAPSHOT_MAGIC, sizeof h.magic) != 0) {
        px_error_set(err, PX_EINVAL, "snapshot: not a passerelle ROME snapshot (bad magic)");
        goto fail;
    }
    if (h.endian != ENDIAN_MARK) {
        px_error_set(err, PX_EINVAL,
                     "snapshot: written on a machine of another byte order; rebuild it with "
                     "`passerelle rome build`");
        goto fail;
    }
    if (h.format != ROME_SNAPSHOT_FORMAT) {
        px_error_set(err, PX_EINVAL,
                     "snapshot: format version %u, this build reads version %u; rebuild it with "
                     "`passerelle rome build`",
                     h.format, ROME_SNAPSHOT_FORMAT);
        goto fail;
    }
    if (h.body_size != len - sizeof h) {
        px_error_set(err, PX_EINVAL,
                     "snapshot: header announces %llu bytes after it, the image has %zu (truncated "
                     "or padded)",
                     (unsigned long long)h.body_size, len - sizeof h);
        goto fail;
    }
    uint64_t stored = h.checksum;
    h.checksum = 0;
    memcpy(buf, &h, sizeof h);
    uint64_t actual = XXH3_64bits(buf, len);
    h.checksum = stored;
    memcpy(buf, &h, sizeof h);
    if (actual != stored) {
        px_error_set(err, PX_EINVAL, "snapshot: checksum mismatch (the image is corrupted)");
        goto fail;
    }
    if (h.n_sections != ROME_SEC_COUNT) {
        px_error_set(err, PX_EINVAL, "snapshot: %u sections, expected %d", h.n_sections,
                     ROME_SEC_COUNT);
        goto fail;
    }
    if (!(idx = calloc(1, sizeof *idx))) {
        px_error_set(err, PX_ENOMEM, "snapshot: out of memory");
        goto fail;
    }
    idx->rome_major = h.rome_major;
    idx->rome_version = h.rome_version;
    idx->n = h.counts;
    /* The section table must be exactly what these counts imply: same ids, sizes and offsets. */
    rome_section sec[ROME_SEC_COUNT];
    rome_index_sections(idx, sec);
    const unsigned char *table = (unsigned char *)buf + sizeof h;
    uint64_t at = PAYLOAD_START;
    for (int i = 0; i < ROME_SEC_COUNT; i++) {
        snapshot_section s;
        memcpy(&s, table + i * sizeof s, sizeof s);
        uint64_t size = sec[i].count * sec[i].elem_size;
        if (s.id != sec[i].id || s.elem_size != sec[i].elem_size || s.count != sec[i].count ||
            s.offset != at || s.size != size) {
            px_error_set(
                err, PX_EINVAL,
                "snapshot: section %d does not match the header's counts (inconsistent image)",
                i + 1);
            goto fail;
        }
        at += ALIGN8(size);
    }
    if (at != len) {
        px_error_set(err, PX_EINVAL, "snapshot: sections end at %llu, image is %zu bytes",
                     (unsigned long long)at, len);
        goto fail;
    }
    /* What rome_snapshot_encode() writes as zeros (the reserved field, the header's tail, the
     * padding after the section table and after each section) must be zeros: anything else was
     * not written by it. */
    const unsigned char *image = buf;
    bool padding_ok =
        h.reserved == 0 &&
        zeros(image, offsetof(snapshot_header, counts) + sizeof h.counts, sizeof h) &&
        zeros(image, sizeof h + ROME_SEC_COUNT * sizeof(snapshot_section), PAYLOAD_START);
    at = PAYLOAD_START;
    for (int i = 0; i < ROME_SEC_COUNT; i++) {
        uint64_t size = sec[i].count * sec[i].elem_size;
        padding_ok = padding_ok && zeros(image, at + size, at + ALIGN8(size));
        at += ALIGN8(size);
    }
    if (!padding_ok) {
        px_error_set(err, PX_EINVAL,
                     "snapshot: nonzero padding or reserved bytes (corrupted image)");
        goto fail;
    }
    rome_index_attach(idx, buf, len, (unsigned char *)buf + PAYLOAD_START);
    if (validate(idx, err)) {
        idx->storage = NULL; /* freed below, once */
        goto fail;
    }
    return idx;
fail:
    free(idx);
    free(buf);
    return NULL;
}

rome_index *rome_snapshot_decode(const void *buf, size_t len, px_error *err) {
    void *copy = malloc(len ? len : 1);
    if (!copy) {
        px_error_set(err, PX_ENOMEM, "snapshot: out of memory (%zu bytes)", len);
        return NULL;
    }
    memcpy(copy, buf, len);
    return rome_snapshot_adopt(copy, len, err);
}

int rome_snapshot_write(const rome_index *idx, const char *path, px_error *err) {
    void *buf;
    size_t len;
    if (rome_snapshot_encode(idx, &buf, &len, err)) return -1;
    /* Write to a temporary name and rename, so a reader never sees half a snapshot. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f)
        rc = px_error_set(err, PX_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    else {
        if (fwrite(buf, 1, len, f) != len)
            rc = px_error_set(err, PX_EIO, "%s: write failed: %s", tmp, strerror(errno));
        if (fclose(f) != 0 && !rc)
            rc = px_error_set(err, PX_EIO, "%s: close failed: %s", tmp, strerror(errno));
        if (!rc && rename(tmp, path) != 0)
            rc = px_error_set(err, PX_EIO, "%s: cannot rename into place: %s", path,
                              strerror(errno));
        if (rc) remove(tmp);
    }
    free(buf);
    return rc;
}

rome_index *rome_snapshot_load(const char *path, px_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        px_error_set(err, PX_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    /* A directory opens fine and then fails to read: say what it is (a ROME export directory
     * goes to --rome, not --snapshot). */
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        px_error_set(err, PX_EIO, "%s: cannot determine its size: %s", path, strerror(errno));
        fclose(f);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        px_error_set(err, PX_EIO, "%s: %s, not a snapshot file written by `passerelle rome build`",
                     path, S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    void *buf = malloc(size ? size : 1);
    if (!buf) {
        fclose(f);
        px_error_set(err, PX_EIO, "%s: out of memory for its %zu bytes", path, size);
        return NULL;
    }
    size_t got = fread(buf, 1, size, f);
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    if (got != size) {
        free(buf);
        if (read_errno)
            px_error_set(err, PX_EIO, "%s: read error after %zu of %zu bytes: %s", path, got, size,
                         strerror(read_errno));
        else
            px_error_set(err, PX_EIO, "%s: truncated while read: %zu of %zu bytes", path, got,
                         size);
        return NULL;
    }
    rome_index *idx = rome_snapshot_adopt(buf, (size_t)size, err);
    if (!idx && err) {
        char inner[PX_ERROR_MSG_MAX];
        snprintf(inner, sizeof inner, "%s", err->msg);
        px_error_set(err, PX_EINVAL, "%s: %s", path, inner);
    }
    return idx;
}
