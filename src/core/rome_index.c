#include "rome_index.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

/* Snapshots store these structs byte for byte: no padding may creep in. */
_Static_assert(sizeof(rome_fiche) == 40, "rome_fiche layout changed: bump ROME_SNAPSHOT_FORMAT");
_Static_assert(sizeof(rome_tag) == 16, "rome_tag layout changed: bump ROME_SNAPSHOT_FORMAT");
_Static_assert(sizeof(rome_esco_link) == 8, "rome_esco_link changed: bump ROME_SNAPSHOT_FORMAT");

void rome_index_free(rome_index *idx) {
    if (!idx) return;
    free(idx->storage);
    free(idx);
}

/* Binary search for a uint32 key stored at offset 0 of each element (every code_ogr-keyed entity
 * starts with its code_ogr). Branch-free: the halving picks its side with a conditional move, as
 * the side taken at each step is a coin toss a predictor would miss half the time. */
static uint32_t find_by_code_ogr(const void *base, uint32_t n, size_t elem, uint32_t code) {
    const unsigned char *b = base;
    uint32_t k;
    if (n == 0) return ROME_NONE;
    uint32_t lo = 0;
    for (uint32_t len = n; len > 1; len -= len / 2) {
        memcpy(&k, b + (size_t)(lo + len / 2) * elem, sizeof k);
        lo = k <= code ? lo + len / 2 : lo;
    }
    memcpy(&k, b + (size_t)lo * elem, sizeof k);
    return k == code ? lo : ROME_NONE;
}

/* Binary search without an early exit, as find_by_code_ogr. */
uint32_t rome_fiche_find(const rome_index *idx, const char *code) {
    if (idx->n.fiches == 0) return ROME_NONE;
    uint32_t lo = 0;
    for (uint32_t len = idx->n.fiches; len > 1; len -= len / 2)
        lo = strcmp(idx->fiches[lo + len / 2].code, code) <= 0 ? lo + len / 2 : lo;
    return strcmp(idx->fiches[lo].code, code) == 0 ? lo : ROME_NONE;
}

uint32_t rome_appellation_find(const rome_index *idx, uint32_t code_ogr) {
    return find_by_code_ogr(idx->appellations, idx->n.appellations, sizeof *idx->appellations,
                            code_ogr);
}
uint32_t rome_item_find(const rome_index *idx, uint32_t code_ogr) {
    return find_by_code_ogr(idx->items, idx->n.items, sizeof *idx->items, code_ogr);
}
uint32_t rome_contexte_find(const rome_index *idx, uint32_t code_ogr) {
    return find_by_code_ogr(idx->contextes, idx->n.contextes, sizeof *idx->contextes, code_ogr);
}

/* Linear: grands domaines (14) and domaines (110) are few and looked up rarely. The code is the
 * first member of both structs. */
static uint32_t find_short_code(const void *base, uint32_t n, size_t elem, const char *code) {
    const unsigned char *b = base;
    for (uint32_t i = 0; i < n; i++)
        if (!strncmp((const char *)(b + (size_t)i * elem), code, 4)) return i;
    return ROME_NONE;
}

uint32_t rome_grand_domaine_find(const rome_index *idx, const char *code) {
    return find_short_code(idx->grands_domaines, idx->n.grands_domaines,
                           sizeof *idx->grands_domaines, code);
}
uint32_t rome_domaine_find(const rome_index *idx, const char *code) {
    return find_short_code(idx->domaines, idx->n.domaines, sizeof *idx->domaines, code);
}

/* Binary search on (family, code), the order the loader sorts tags in. */
uint32_t rome_tag_find(const rome_index *idx, rome_tag_family family, const char *code) {
    uint32_t lo = 0, hi = idx->n.tags;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const rome_tag *t = &idx->tags[mid];
        int c = t->family != (uint32_t)family ? (t->family < (uint32_t)family ? -1 : 1)
                                              : strncmp(t->code, code, sizeof t->code);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return ROME_NONE;
}

const char *rome_tag_family_name(rome_tag_family family) {
    switch (family) {
    case ROME_TAG_CENTRE_INTERET: return "centre_interet";
    case ROME_TAG_SECTEUR: return "secteur";
    case ROME_TAG_SOUS_SECTEUR: return "sous_secteur";
    case ROME_TAG_THEME: return "theme";
    }
    return "unknown";
}

int rome_fiche_item_importance(const rome_index *idx, uint32_t fiche, uint32_t item) {
    const rome_csr *c = &idx->fiche_items;
    uint32_t lo = c->offsets[fiche], hi = c->offsets[fiche + 1];
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->targets[mid] == item) return c->importance[mid];
        if (c->targets[mid] < item)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const char *rome_esco_relation_name(rome_esco_relation rel) {
    switch (rel) {
    case ROME_ESCO_EXACT: return "exact";
    case ROME_ESCO_CLOSE: return "close";
    case ROME_ESCO_BROAD: return "broad";
    case ROME_ESCO_NARROW: return "narrow";
    }
    return "unknown";
}

const char *rome_kind_name(rome_kind kind) {
    switch (kind) {
    case ROME_KIND_SAVOIR_FAIRE: return "savoir_faire";
    case ROME_KIND_SAVOIR_ETRE: return "savoir_etre";
    case ROME_KIND_SAVOIR: return "savoir";
    }
    return "unknown";
}

const char *rome_importance_name(rome_importance imp) {
    switch (imp) {
    case ROME_IMPORTANCE_PRINCIPALE: return "principale";
    case ROME_IMPORTANCE_EMERGENTE: return "emergente";
    case ROME_IMPORTANCE_NONE: return "none";
    }
    return "unknown";
}

void rome_index_sections(rome_index *idx, rome_section out[ROME_SEC_COUNT]) {
    const rome_counts *n = &idx->n;
    uint32_t links = n->fiche_item_links, ctx = n->fiche_contexte_links, apps = n->appellations;
    uint32_t tagl = n->fiche_tag_links;
#define SEC(ID, FIELD, COUNT)                                                                      \
    out[(ID)-1] = (rome_section){(ID), (uint32_t)sizeof *(FIELD), (COUNT), (const void **)&(FIELD)}
    SEC(ROME_SEC_FICHES, idx->fiches, n->fiches);
    SEC(ROME_SEC_GRANDS_DOMAINES, idx->grands_domaines, n->grands_domaines);
    SEC(ROME_SEC_DOMAINES, idx->domaines, n->domaines);
    SEC(ROME_SEC_APPELLATIONS, idx->appellations, n->appellations);
    SEC(ROME_SEC_ITEMS, idx->items, n->items);
    SEC(ROME_SEC_COMP_DOMAINES, idx->comp_domaines, n->comp_domaines);
    SEC(ROME_SEC_ENJEUX, idx->enjeux, n->enjeux);
    SEC(ROME_SEC_CONTEXTES, idx->contextes, n->contextes);
    SEC(ROME_SEC_FICHE_ITEMS_OFF, idx->fiche_items.offsets, (uint64_t)n->fiches + 1);
    SEC(ROME_SEC_FICHE_ITEMS, idx->fiche_items.targets, links);
    SEC(ROME_SEC_FICHE_ITEMS_IMP, idx->fiche_items.importance, links);
    SEC(ROME_SEC_ITEM_FICHES_OFF, idx->item_fiches.offsets, (uint64_t)n->items + 1);
    SEC(ROME_SEC_ITEM_FICHES, idx->item_fiches.targets, links);
    SEC(ROME_SEC_ITEM_FICHES_IMP, idx->item_fiches.importance, links);
    SEC(ROME_SEC_FICHE_CTX_OFF, idx->fiche_contextes.offsets, (uint64_t)n->fiches + 1);
    SEC(ROME_SEC_FICHE_CTX, idx->fiche_contextes.targets, ctx);
    SEC(ROME_SEC_CTX_FICHES_OFF, idx->contexte_fiches.offsets, (uint64_t)n->contextes + 1);
    SEC(ROME_SEC_CTX_FICHES, idx->contexte_fiches.targets, ctx);
    SEC(ROME_SEC_FICHE_APP_OFF, idx->fiche_appellations.offsets, (uint64_t)n->fiches + 1);
    SEC(ROME_SEC_FICHE_APP, idx->fiche_appellations.targets, apps);
    SEC(ROME_SEC_TAGS, idx->tags, n->tags);
    SEC(ROME_SEC_FICHE_TAGS_OFF, idx->fiche_tags.offsets, (uint64_t)n->fiches + 1);
    SEC(ROME_SEC_FICHE_TAGS, idx->fiche_tags.targets, tagl);
    SEC(ROME_SEC_FICHE_TAGS_IMP, idx->fiche_tags.importance, tagl);
    SEC(ROME_SEC_TAG_FICHES_OFF, idx->tag_fiches.offsets, (uint64_t)n->tags + 1);
    SEC(ROME_SEC_TAG_FICHES, idx->tag_fiches.targets, tagl);
    SEC(ROME_SEC_TAG_FICHES_IMP, idx->tag_fiches.importance, tagl);
    SEC(ROME_SEC_APP_ESCO_OFF, idx->appellation_esco.offsets, (uint64_t)apps + 1);
    SEC(ROME_SEC_APP_ESCO, idx->appellation_esco.links, n->esco_appellation_links);
    SEC(ROME_SEC_FICHE_ESCO_OFF, idx->fiche_esco.offsets, (uint64_t)n->fiches + 1);
    SEC(ROME_SEC_FICHE_ESCO, idx->fiche_esco.links, n->esco_fiche_links);
    SEC(ROME_SEC_STRINGS, idx->strings, n->strings_bytes);
#undef SEC
}

size_t rome_index_storage_size(rome_index *idx) {
    rome_section sec[ROME_SEC_COUNT];
    rome_index_sections(idx, sec);
    size_t size = 0;
    for (int i = 0; i < ROME_SEC_COUNT; i++) size += ALIGN8(sec[i].count * sec[i].elem_size);
    return size;
}

void rome_index_attach(rome_index *idx, void *owned, size_t owned_size, const void *payload) {
    rome_section sec[ROME_SEC_COUNT];
    rome_index_sections(idx, sec);
    const unsigned char *p = payload;
    for (int i = 0; i < ROME_SEC_COUNT; i++) {
        *sec[i].field = p;
        p += ALIGN8(sec[i].count * sec[i].elem_size);
    }
    idx->storage = owned;
    idx->storage_size = owned_size;
}

rome_index *rome_index_pack(const rome_index *loose) {
    rome_index *idx = malloc(sizeof *idx);
    if (!idx) return NULL;
    *idx = *loose;
    size_t size = rome_index_storage_size(idx);
    void *block = calloc(1, size ? size : 1); /* zeroed: padding bytes are deterministic */
    if (!block) {
        free(idx);
        return NULL;
    }
    rome_section from[ROME_SEC_COUNT];
    rome_index_sections((rome_index *)loose, from);
    rome_index_attach(idx, block, size, block);
    rome_section to[ROME_SEC_COUNT];
    rome_index_sections(idx, to);
    for (int i = 0; i < ROME_SEC_COUNT; i++)
        if (from[i].count)
            memcpy((void *)*to[i].field, *from[i].field, from[i].count * from[i].elem_size);
    return idx;
}

bool rome_index_equal(const rome_index *a, const rome_index *b) {
    if (a->rome_major != b->rome_major || a->rome_version != b->rome_version) return false;
    if (memcmp(&a->n, &b->n, sizeof a->n) != 0) return false;
    rome_section sa[ROME_SEC_COUNT], sb[ROME_SEC_COUNT];
    rome_index_sections((rome_index *)a, sa);
    rome_index_sections((rome_index *)b, sb);
    for (int i = 0; i < ROME_SEC_COUNT; i++) {
        size_t bytes = sa[i].count * sa[i].elem_size;
        if (bytes && memcmp(*sa[i].field, *sb[i].field, bytes) != 0) return false;
    }
    return true;
}

size_t rome_index_memory(const rome_index *idx) { return sizeof *idx + idx->storage_size; }
