/* rome_index — the ROME 4.0 referential as compact, immutable arrays.
 *
 * Every entity gets a dense integer id (its position in its array). Arrays of entities keyed by
 * code_ogr are sorted by code_ogr and fiches are sorted by code, so "code → id" is a binary search
 * on the array itself. Links are CSR (compressed sparse row) arrays in both directions:
 *   fiche → items (competences and savoirs) with importance, item → fiches (the inverted list),
 *   fiche → contextes, contexte → fiches, fiche → appellations, fiche → tags, tag → fiches.
 * With the ESCO crosswalk (rome_load.h), appellation → ESCO occupations and fiche → ESCO
 * occupations (the union over the fiche's appellations) are CSR arrays of rome_esco_link.
 * All labels live in one string pool; a `uint32_t` label is an offset into it (rome_str()).
 *
 * Ownership: a rome_index is built by rome_load_csv() (rome_load.h) or rome_snapshot_load*()
 * (rome_snapshot.h) and released with rome_index_free(). Once built it is never modified, so any
 * number of threads may read it concurrently without locking: its fields and arrays, rome_str()
 * and the rome_csr/esco accessors, every rome_*_find() (binary searches, no cache) and
 * rome_index_pack() (which only reads `loose`). What takes a non-const rome_index (the
 * rome_index_sections() / _storage_size() / _attach() trio, the loaders' own use, and
 * rome_index_free()) belongs to building or freeing, before any reader starts or after the last
 * one ended (the daemon frees an index only once no batch pins it).
 *
 * This is pure logic: no I/O library beyond libc, no Kafka, Redis or libuv. */
#ifndef ROME_INDEX_H
#define ROME_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROME_NONE UINT32_MAX

/* Kind of a competence item (savoir-faire and savoir-être come from referentiel_competence,
 * savoirs from referentiel_savoir). Values are stable: they are stored in snapshots. */
typedef enum rome_kind {
    ROME_KIND_SAVOIR_FAIRE = 0,
    ROME_KIND_SAVOIR_ETRE = 1,
    ROME_KIND_SAVOIR = 2,
} rome_kind;

/* unix_coherence_item.coeur_metier. Stored in snapshots. */
typedef enum rome_importance {
    ROME_IMPORTANCE_NONE = 0,
    ROME_IMPORTANCE_EMERGENTE = 1,
    ROME_IMPORTANCE_PRINCIPALE = 2,
} rome_importance;

#define ROME_FICHE_REGLEMENTE 0x01u /* emploi_reglemente */
#define ROME_FICHE_CADRE      0x02u /* emploi_cadre */

/* The texts and RIASEC letters come from optional files (rome_load.h): without them they are "". */
typedef struct rome_fiche {
    char code[8]; /* "D1505", NUL-terminated */
    uint32_t code_ogr;
    uint32_t label;        /* libelle_rome */
    uint16_t domaine;      /* id in domaines (domaine professionnel, e.g. D15) */
    uint8_t grand_domaine; /* id in grands_domaines (e.g. D) */
    uint8_t flags;         /* ROME_FICHE_* */
    char parent[8];        /* code_rome_parent: the ROME v3 fiche it derives from ("" if none) */
    uint32_t definition;   /* unix_texte bloc 3 sentences in position_phrase order, joined by "\n";
                             * 0 = "" */
    uint32_t acces;        /* unix_texte bloc 4 (accès au métier), likewise */
    char riasec[3];        /* riasec_majeur then riasec_mineur (R I A S E C), NUL-terminated; ""
                             * if none */
    uint8_t reserved;      /* zero */
} rome_fiche;

typedef struct rome_grand_domaine {
    char code[4]; /* "D" */
    uint32_t label;
} rome_grand_domaine;

typedef struct rome_domaine {
    char code[4]; /* "D15" */
    uint32_t label;
    uint32_t grand_domaine; /* id in grands_domaines */
} rome_domaine;

#define ROME_APPELLATION_PRINCIPALE 0x01u /* classification = PRINCIPALE (else SYNONYME) */
#define ROME_APPELLATION_PEU_USITE  0x02u /* peu_usite = O */
#define ROME_APPELLATION_REGLEMENTE 0x04u /* the appellation's own emploi_reglemente = O */
#define ROME_APPELLATION_CADRE      0x08u /* the appellation's own emploi_cadre = O */

typedef struct rome_appellation {
    uint32_t code_ogr;
    uint32_t label_long;
    uint32_t label_short;
    uint32_t fiche; /* id in fiches */
    uint32_t flags; /* ROME_APPELLATION_* */
} rome_appellation;

#define ROME_ITEM_MACRO         0x01u /* nature = Macro-compétence */
#define ROME_ITEM_QUALIFICATION 0x02u /* savoir of category "Certifications et habilitations" */

/* A competence (savoir-faire / savoir-être, including macro-compétences) or a savoir. ROME's
 * code_ogr values of the two referentials do not overlap, so they share one id space. */
typedef struct rome_item {
    uint32_t code_ogr;
    uint32_t label;
    uint32_t macro;       /* for a Compétence: item id of its macro-compétence, else ROME_NONE */
    uint32_t enjeu;       /* for a macro-compétence: id in enjeux, else ROME_NONE */
    uint32_t category;    /* cat_comp (competences) or categorie_savoir (savoirs) */
    uint32_t subcategory; /* sous_cat_comp or sous_categorie_savoir */
    uint8_t kind;         /* rome_kind */
    uint8_t flags;        /* ROME_ITEM_* */
    uint16_t reserved;    /* zero */
} rome_item;

/* Competence hierarchy above macro-compétences (labels from the DERIVED hierarchy file). */
typedef struct rome_comp_domaine {
    char code[4]; /* "4" */
    uint32_t label;
} rome_comp_domaine;

typedef struct rome_enjeu {
    char code[4]; /* "4A" */
    uint32_t label;
    uint32_t comp_domaine; /* id in comp_domaines */
} rome_enjeu;

typedef struct rome_contexte {
    uint32_t code_ogr;
    uint32_t label;
    uint32_t type_code;  /* code_type_cont_trav (1, 2, 3, 5, 6, 7) */
    uint32_t type_label; /* libelle_type_cont_trav */
} rome_contexte;

/* Families of fiche tags (the "arborescences" other than the main one). Stored in snapshots. */
typedef enum rome_tag_family {
    ROME_TAG_CENTRE_INTERET = 0, /* unix_arborescence_centre_interet (code_centre_interet) */
    ROME_TAG_SECTEUR = 1,        /* unix_arborescence_secteur_activite, code_sect_activite */
    ROME_TAG_SOUS_SECTEUR = 2,   /* same file, code_ss_sect_activite */
    ROME_TAG_THEME = 3,          /* unix_arborescence_thematique (code_theme) */
} rome_tag_family;
#define ROME_TAG_FAMILIES 4

typedef struct rome_tag {
    uint32_t family; /* rome_tag_family */
    char code[8];    /* as in the file ("001", "110"), NUL-terminated */
    uint32_t label;
} rome_tag;

/* Optional files of the export that were loaded (rome_counts.optional_files). */
#define ROME_OPT_TEXTE          0x01u /* unix_texte */
#define ROME_OPT_RIASEC         0x02u /* unix_referentiel_code_rome_riasec */
#define ROME_OPT_CENTRE_INTERET 0x04u /* unix_arborescence_centre_interet */
#define ROME_OPT_SECTEUR        0x08u /* unix_arborescence_secteur_activite */
#define ROME_OPT_THEME          0x10u /* unix_arborescence_thematique */
#define ROME_OPT_ESCO           0x20u /* the ESCO–ROME crosswalk (*mapping_esco_rome*.csv) */

/* The crosswalk's `mapping relation` (skos:exactMatch …), best first. Stored in snapshots. */
typedef enum rome_esco_relation {
    ROME_ESCO_EXACT = 0,
    ROME_ESCO_CLOSE = 1,
    ROME_ESCO_BROAD = 2,
    ROME_ESCO_NARROW = 3,
} rome_esco_relation;

/* One ESCO occupation linked to an appellation or a fiche. */
typedef struct rome_esco_link {
    uint32_t uri;        /* string-pool offset of the ESCO occupation URI */
    uint8_t relation;    /* rome_esco_relation */
    uint8_t reserved[3]; /* zero */
} rome_esco_link;

/* The links of source s are links[offsets[s] .. offsets[s+1]), ordered by relation (exact, close,
 * broad, narrow), then by their first line in the crosswalk; no URI twice in one source. */
typedef struct rome_esco_csr {
    const uint32_t *offsets; /* n_sources + 1 entries (all 0 without a crosswalk) */
    const rome_esco_link *links;
} rome_esco_csr;

/* A CSR adjacency: the targets of source s are targets[offsets[s] .. offsets[s+1]). */
typedef struct rome_csr {
    const uint32_t *offsets;   /* n_sources + 1 entries */
    const uint32_t *targets;   /* offsets[n_sources] entries, sorted ascending per source */
    const uint8_t *importance; /* parallel to targets (rome_importance), or NULL */
} rome_csr;

typedef struct rome_counts {
    uint32_t fiches, appellations, items, contextes;
    uint32_t grands_domaines, domaines, comp_domaines, enjeux;
    uint32_t competences; /* items that are savoir-faire/savoir-être (incl. macros) */
    uint32_t macro_competences;
    uint32_t savoirs;
    uint32_t fiche_item_links;     /* bloc 5 */
    uint32_t fiche_contexte_links; /* bloc 6 */
    uint32_t strings_bytes;
    uint32_t tags;
    uint32_t fiche_tag_links;
    uint32_t optional_files;         /* ROME_OPT_* */
    uint32_t esco_rows;              /* crosswalk records read (0 without a crosswalk) */
    uint32_t esco_skipped;           /* of which naming an appellation the export does not have */
    uint32_t esco_appellation_links; /* appellation → ESCO links kept */
    uint32_t esco_fiche_links;       /* fiche → ESCO links (the per-fiche unions) */
} rome_counts;

typedef struct rome_index {
    uint32_t rome_major;   /* 4 for ROME 4.0 */
    uint32_t rome_version; /* 60 for files named *_v460_* */
    rome_counts n;

    const rome_fiche *fiches;                  /* sorted by code */
    const rome_grand_domaine *grands_domaines; /* sorted by code */
    const rome_domaine *domaines;              /* sorted by code */
    const rome_appellation *appellations;      /* sorted by code_ogr */
    const rome_item *items;                    /* sorted by code_ogr */
    const rome_comp_domaine *comp_domaines;    /* sorted by code */
    const rome_enjeu *enjeux;                  /* sorted by code */
    const rome_contexte *contextes;            /* sorted by code_ogr */
    const rome_tag *tags;                      /* sorted by (family, code) */

    rome_csr fiche_items;        /* fiche → item, with importance */
    rome_csr item_fiches;        /* item → fiche, with importance (inverted list) */
    rome_csr fiche_contextes;    /* fiche → contexte */
    rome_csr contexte_fiches;    /* contexte → fiche */
    rome_csr fiche_appellations; /* fiche → appellation */
    rome_csr fiche_tags;         /* fiche → tag; importance 2 where principal = "oui", else 0 */
    rome_csr tag_fiches;         /* tag → fiche (inverted list), importance likewise */
    rome_esco_csr appellation_esco; /* appellation → ESCO occupations, as the crosswalk lists */
    rome_esco_csr fiche_esco;       /* fiche → ESCO occupations: the union over its appellations,
                                  * each URI once with its best relation */

    const char *strings; /* string pool; offset 0 is the empty string */

    void *storage;       /* private: the memory block(s) the arrays point into */
    size_t storage_size; /* private */
} rome_index;

void rome_index_free(rome_index *idx);

/* The label at a string-pool offset (never NULL). */
static inline const char *rome_str(const rome_index *idx, uint32_t off) {
    return idx->strings + off;
}

/* Code → id lookups; ROME_NONE when absent. */
uint32_t rome_fiche_find(const rome_index *idx, const char *code);
uint32_t rome_appellation_find(const rome_index *idx, uint32_t code_ogr);
uint32_t rome_item_find(const rome_index *idx, uint32_t code_ogr);
uint32_t rome_contexte_find(const rome_index *idx, uint32_t code_ogr);
uint32_t rome_grand_domaine_find(const rome_index *idx, const char *code);
uint32_t rome_domaine_find(const rome_index *idx, const char *code);
uint32_t rome_tag_find(const rome_index *idx, rome_tag_family family, const char *code);
const char *rome_tag_family_name(rome_tag_family family); /* "centre_interet" | "secteur" | … */

/* Number of targets of a CSR source and a pointer to them. */
static inline uint32_t rome_csr_count(const rome_csr *csr, uint32_t source) {
    return csr->offsets[source + 1] - csr->offsets[source];
}
static inline const uint32_t *rome_csr_targets(const rome_csr *csr, uint32_t source) {
    return csr->targets + csr->offsets[source];
}

/* True when the index was built with the ESCO crosswalk (its links may still be empty). */
static inline bool rome_has_esco(const rome_index *idx) {
    return (idx->n.optional_files & ROME_OPT_ESCO) != 0;
}
static inline uint32_t rome_esco_count(const rome_esco_csr *csr, uint32_t source) {
    return csr->offsets[source + 1] - csr->offsets[source];
}
static inline const rome_esco_link *rome_esco_links(const rome_esco_csr *csr, uint32_t source) {
    return csr->links + csr->offsets[source];
}
/* "exact" | "close" | "broad" | "narrow" (skos:exactMatch …). */
const char *rome_esco_relation_name(rome_esco_relation rel);

/* Importance of item in fiche (binary search of the fiche's sorted row), or -1 when the fiche does
 * not list the item. */
int rome_fiche_item_importance(const rome_index *idx, uint32_t fiche, uint32_t item);

const char *rome_kind_name(rome_kind kind); /* "savoir_faire" | "savoir_etre" | "savoir" */
const char *rome_importance_name(rome_importance imp); /* "principale" | "emergente" | "none" */

/* True when both indexes hold exactly the same data (used to prove snapshot round trips). */
bool rome_index_equal(const rome_index *a, const rome_index *b);

/* Bytes of memory the index holds (arrays and strings). */
size_t rome_index_memory(const rome_index *idx);

/* --- Layout, shared by rome_load (which packs) and rome_snapshot (which serialises). ---
 * An index's arrays are "sections" of one contiguous storage block, each 8-byte aligned, in the
 * order of this enum. The snapshot payload is that block byte for byte. */
typedef enum rome_section_id {
    ROME_SEC_FICHES = 1,
    ROME_SEC_GRANDS_DOMAINES,
    ROME_SEC_DOMAINES,
    ROME_SEC_APPELLATIONS,
    ROME_SEC_ITEMS,
    ROME_SEC_COMP_DOMAINES,
    ROME_SEC_ENJEUX,
    ROME_SEC_CONTEXTES,
    ROME_SEC_FICHE_ITEMS_OFF,
    ROME_SEC_FICHE_ITEMS,
    ROME_SEC_FICHE_ITEMS_IMP,
    ROME_SEC_ITEM_FICHES_OFF,
    ROME_SEC_ITEM_FICHES,
    ROME_SEC_ITEM_FICHES_IMP,
    ROME_SEC_FICHE_CTX_OFF,
    ROME_SEC_FICHE_CTX,
    ROME_SEC_CTX_FICHES_OFF,
    ROME_SEC_CTX_FICHES,
    ROME_SEC_FICHE_APP_OFF,
    ROME_SEC_FICHE_APP,
    ROME_SEC_TAGS,
    ROME_SEC_FICHE_TAGS_OFF,
    ROME_SEC_FICHE_TAGS,
    ROME_SEC_FICHE_TAGS_IMP,
    ROME_SEC_TAG_FICHES_OFF,
    ROME_SEC_TAG_FICHES,
    ROME_SEC_TAG_FICHES_IMP,
    ROME_SEC_APP_ESCO_OFF,
    ROME_SEC_APP_ESCO,
    ROME_SEC_FICHE_ESCO_OFF,
    ROME_SEC_FICHE_ESCO,
    ROME_SEC_STRINGS,
    ROME_SEC_COUNT = ROME_SEC_STRINGS
} rome_section_id;

typedef struct rome_section {
    uint32_t id;        /* rome_section_id */
    uint32_t elem_size; /* bytes per element */
    uint64_t count;     /* elements, from idx->n */
    const void **field; /* the index's pointer to this array */
} rome_section;

/* Fills the ROME_SEC_COUNT sections of idx (pointers into idx, counts from idx->n). */
void rome_index_sections(rome_index *idx, rome_section out[ROME_SEC_COUNT]);
/* Bytes the storage block takes for idx->n (sections 8-aligned). */
size_t rome_index_storage_size(rome_index *idx);
/* Copies every array of `loose` (whose arrays live anywhere) into one new storage block and
 * returns an index pointing into it. `loose` is left as it was. NULL when out of memory. */
rome_index *rome_index_pack(const rome_index *loose);
/* Points idx's arrays into `payload` (laid out as rome_index_storage_size describes) and makes
 * idx own `owned` (the malloc'd block that contains payload), freed by rome_index_free. */
void rome_index_attach(rome_index *idx, void *owned, size_t owned_size, const void *payload);

#define ROME_ATTRIBUTION_FMT "Source : France Travail, ROME %u.0 version %u (Licence Ouverte ROME)"

#endif
