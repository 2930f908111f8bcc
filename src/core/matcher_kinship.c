/* matcher_kinship — how near two fiches are, from what ROME writes about them
 * (docs/matching.md §3).
 *
 * K(F, f) = Σ_k weight_k × sim_k(F, f), computed once at build into a dense fiches × fiches matrix,
 * where each sim_k is a cosine of tf-idf vectors over one kind of "words" of the fiches:
 *   definition  the words of the définition text,
 *   access      the words of the accès au métier text,
 *   titles      the words of the fiche's label and of all its appellations,
 *   tags        its centres d'intérêt, secteurs, sous-secteurs and thèmes,
 *   macro       the macro-compétences of its items (an item counts for its macro),
 * plus weight_parent when both derive from the same ROME v3 fiche. A word is a stem: its first
 * STEM_BYTES letters, lower case, accents removed, at least MIN_WORD letters, not a stop word.
 * Published work on occupation similarity (Nesta's Career Causeways, O*NET's related occupations)
 * combines such descriptions' similarity with skill overlap; bench/quality measures each part. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_private.h"

#define STEM_BYTES        7u /* "manutention" and "manutentionner" share "manuten" */
#define MIN_WORD          3u
#define KINSHIP_MAX_WORDS 65536u /* distinct words of one kind (ROME v60's définitions: ~4,900) */

/* A word of a text as a number: its (at most 8) stem bytes. */
typedef uint64_t word_key;

/* Folds one UTF-8 character starting at s (Latin letters with accents, œ, æ) to lower-case ASCII
 * letters in out (at most 2); returns the bytes read, and sets *n to the letters written (0 for a
 * separator). */
static size_t fold_char(const unsigned char *s, char out[2], size_t *n) {
    static const char latin1[64] = "aaaaaaaceeeeiiiidnooooo ouuuuyts"
                                   "aaaaaaaceeeeiiiidnooooo ouuuuyty";
    *n = 0;
    if (s[0] < 0x80) {
        if ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))
            out[(*n)++] = (char)s[0];
        else if (s[0] >= 'A' && s[0] <= 'Z')
            out[(*n)++] = (char)(s[0] - 'A' + 'a');
        return 1;
    }
    if (s[0] == 0xC3 && s[1] >= 0x80 && s[1] <= 0xBF) {
        char c = latin1[s[1] - 0x80];
        if (c != ' ') out[(*n)++] = c;
        if (s[1] == 0x86 || s[1] == 0xA6) out[(*n)++] = 'e'; /* æ → ae */
        return 2;
    }
    if (s[0] == 0xC5 && (s[1] == 0x92 || s[1] == 0x93)) { /* œ → oe */
        out[0] = 'o', out[1] = 'e', *n = 2;
        return 2;
    }
    size_t len = 1; /* any other character separates words: skip its continuation bytes */
    while ((s[len] & 0xC0) == 0x80) len++;
    return len;
}

static bool is_stop(const char *w, size_t len) {
    static const char *const stops[] = {
        "aux",     "avec",   "ces",    "cet",  "cette", "chez",  "dans",  "des",  "elle",
        "entre",   "est",    "etre",   "leur", "leurs", "les",   "lors",  "par",  "peut",
        "peuvent", "plus",   "pour",   "que",  "qui",   "ses",   "son",   "sont", "sur",
        "tout",    "toute",  "toutes", "tous", "une",   "selon", "ainsi", "afin", "autre",
        "autres",  "aupres", "vers",   "sous", "non",   "etc",
    };
    for (size_t k = 0; k < sizeof stops / sizeof stops[0]; k++)
        if (strlen(stops[k]) == len && !memcmp(stops[k], w, len)) return true;
    return false;
}

/* Calls add(key, opaque) for each word of text, in order. */
static void for_each_word(const char *text, void (*add)(word_key, void *), void *opaque) {
    const unsigned char *s = (const unsigned char *)text;
    char word[64];
    size_t len = 0;
    for (;;) {
        char folded[2];
        size_t n = 0, step = *s ? fold_char(s, folded, &n) : 0;
        for (size_t k = 0; k < n && len < sizeof word; k++) word[len++] = folded[k];
        if (!n && len) {
            if (len >= MIN_WORD && !is_stop(word, len)) {
                if (len > 4 && (word[len - 1] == 's' || word[len - 1] == 'x')) len--; /* plural */
                word_key key = 0;
                memcpy(&key, word, len < STEM_BYTES ? len : STEM_BYTES);
                add(key, opaque);
            }
            len = 0;
        }
        if (!*s) return;
        s += step;
    }
}

/* ---- sparse tf-idf documents, one per fiche ---- */

typedef struct term_entry {
    uint32_t doc, term;
    float weight;
} term_entry;

typedef struct docs {
    uint32_t n_docs, n_terms;
    word_key *keys; /* open-addressing table of the terms seen */
    uint32_t *ids;  /* parallel: term id + 1, 0 = empty */
    uint32_t mask;
    term_entry *entries; /* (doc, term, count → weight) */
    size_t n_entries, cap_entries;
    uint32_t current_doc;
    bool failed;
} docs;

static uint32_t term_id(docs *d, word_key key) {
    uint32_t slot = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 40) & d->mask;
    while (d->ids[slot] && d->keys[slot] != key) slot = (slot + 1) & d->mask;
    if (!d->ids[slot]) {
        d->keys[slot] = key;
        d->ids[slot] = ++d->n_terms;
    }
    return d->ids[slot] - 1;
}

static void docs_add(word_key key, void *opaque) {
    docs *d = opaque;
    if (d->failed) return;
    if (d->n_terms * 2 >= d->mask) { /* the table is sized for the vocabulary: never full */
        d->failed = true;
        return;
    }
    if (d->n_entries == d->cap_entries) {
        size_t cap = d->cap_entries ? 2 * d->cap_entries : 4096;
        term_entry *grown = realloc(d->entries, cap * sizeof *grown);
        if (!grown) {
            d->failed = true;
            return;
        }
        d->entries = grown, d->cap_entries = cap;
    }
    d->entries[d->n_entries++] = (term_entry){d->current_doc, term_id(d, key), 1.0f};
}

static int docs_init(docs *d, uint32_t n_docs, uint32_t max_terms) {
    memset(d, 0, sizeof *d);
    d->n_docs = n_docs;
    uint32_t size = 1024;
    while (size < 4 * max_terms) size *= 2;
    d->mask = size - 1;
    d->keys = calloc(size, sizeof *d->keys);
    d->ids = calloc(size, sizeof *d->ids);
    return d->keys && d->ids ? 0 : -1;
}

static void docs_free(docs *d) {
    free(d->keys);
    free(d->ids);
    free(d->entries);
}

static int by_doc_term(const void *a, const void *b) {
    const term_entry *x = a, *y = b;
    if (x->doc != y->doc) return x->doc < y->doc ? -1 : 1;
    return (x->term > y->term) - (x->term < y->term);
}

static int by_term_doc(const void *a, const void *b) {
    const term_entry *x = a, *y = b;
    if (x->term != y->term) return x->term < y->term ? -1 : 1;
    return (x->doc > y->doc) - (x->doc < y->doc);
}

/* Merges repeated (doc, term) entries into tf-idf weights, (1 + ln tf) × ln(N / df), each
 * document's vector scaled to length 1; then adds weight × cosine(F, f) to K for every pair of
 * documents sharing a term, through the term → documents lists (sorted by term). */
static int docs_add_cosines(docs *d, double weight, float *kinship) {
    if (d->failed) return -1;
    if (!d->n_entries || weight == 0) return 0;
    qsort(d->entries, d->n_entries, sizeof *d->entries, by_doc_term);
    size_t n = 0;
    for (size_t k = 0; k < d->n_entries; k++) {
        if (n && d->entries[n - 1].doc == d->entries[k].doc &&
            d->entries[n - 1].term == d->entries[k].term)
            d->entries[n - 1].weight += 1.0f;
        else
            d->entries[n++] = d->entries[k];
    }
    d->n_entries = n;
    uint32_t *df = calloc(d->n_terms, sizeof *df);
    double *norm = calloc(d->n_docs, sizeof *norm);
    if (!df || !norm) {
        free(df);
        free(norm);
        return -1;
    }
    for (size_t k = 0; k < n; k++) df[d->entries[k].term]++;
    for (size_t k = 0; k < n; k++) {
        term_entry *e = &d->entries[k];
        e->weight = (float)((1.0 + log(e->weight)) * log((double)d->n_docs / df[e->term]));
        norm[e->doc] += (double)e->weight * e->weight;
    }
    for (size_t k = 0; k < n; k++)
        if (norm[d->entries[k].doc] > 0)
            d->entries[k].weight /= (float)sqrt(norm[d->entries[k].doc]);
    qsort(d->entries, n, sizeof *d->entries, by_term_doc);
    size_t nd = d->n_docs;
    for (size_t start = 0; start < n;) {
        size_t end = start;
        while (end < n && d->entries[end].term == d->entries[start].term) end++;
        for (size_t a = start; a < end; a++) {
            float *row = kinship + (size_t)d->entries[a].doc * nd;
            float wa = (float)weight * d->entries[a].weight;
            for (size_t b = start; b < end; b++)
                row[d->entries[b].doc] += wa * d->entries[b].weight;
        }
        start = end;
    }
    free(df);
    free(norm);
    return 0;
}

/* ---- the five word kinds ---- */

static void add_fiche_titles(const rome_index *idx, uint32_t f, docs *d) {
    for_each_word(rome_str(idx, idx->fiches[f].label), docs_add, d);
    const rome_csr *fa = &idx->fiche_appellations;
    for (uint32_t k = fa->offsets[f]; k < fa->offsets[f + 1]; k++)
        for_each_word(rome_str(idx, idx->appellations[fa->targets[k]].label_long), docs_add, d);
}

static void add_fiche_tags(const rome_index *idx, uint32_t f, docs *d) {
    const rome_csr *ft = &idx->fiche_tags;
    if (!ft->offsets) return;
    for (uint32_t k = ft->offsets[f]; k < ft->offsets[f + 1]; k++) docs_add(ft->targets[k] + 1u, d);
}

static void add_fiche_macros(const matcher *m, uint32_t f, docs *d) {
    const rome_csr *fi = &m->idx->fiche_items;
    for (uint32_t k = fi->offsets[f]; k < fi->offsets[f + 1]; k++) {
        uint32_t macro = m->items[fi->targets[k]].macro;
        if (macro != ROME_NONE) docs_add(macro + 1u, d);
    }
}

enum { KIND_DEFINITION, KIND_ACCESS, KIND_TITLES, KIND_TAGS, KIND_MACRO, KINDS };

static int add_kind(matcher *m, int kind, double weight) {
    const rome_index *idx = m->idx;
    if (weight == 0) return 0;
    docs d;
    uint32_t max_terms = kind == KIND_MACRO  ? m->n_items
                         : kind == KIND_TAGS ? idx->n.tags + 1u
                                             : KINSHIP_MAX_WORDS;
    if (docs_init(&d, m->n_fiches, max_terms)) {
        docs_free(&d);
        return -1;
    }
    for (uint32_t f = 0; f < m->n_fiches; f++) {
        d.current_doc = f;
        const rome_fiche *fiche = &idx->fiches[f];
        if (kind == KIND_DEFINITION)
            for_each_word(rome_str(idx, fiche->definition), docs_add, &d);
        else if (kind == KIND_ACCESS)
            for_each_word(rome_str(idx, fiche->acces), docs_add, &d);
        else if (kind == KIND_TITLES)
            add_fiche_titles(idx, f, &d);
        else if (kind == KIND_TAGS)
            add_fiche_tags(idx, f, &d);
        else
            add_fiche_macros(m, f, &d);
    }
    int rc = docs_add_cosines(&d, weight, m->kinship);
    docs_free(&d);
    return rc;
}

/* Fiches that derive from one ROME v3 fiche (same non-empty code_rome_parent) are siblings. */
static void add_parents(matcher *m, double weight) {
    const rome_index *idx = m->idx;
    size_t n = m->n_fiches;
    if (weight == 0) return;
    for (uint32_t a = 0; a < n; a++) {
        if (!idx->fiches[a].parent[0]) continue;
        for (uint32_t b = 0; b < n; b++)
            if (!strcmp(idx->fiches[a].parent, idx->fiches[b].parent))
                m->kinship[(size_t)a * n + b] += (float)weight;
    }
}

int matcher_build_kinship(matcher *m, px_error *err) {
    const matcher_config *c = &m->cfg;
    size_t n = m->n_fiches;
    m->kinship = calloc(n ? n * n : 1, sizeof *m->kinship);
    if (!m->kinship) return px_error_set(err, PX_ENOMEM, "matcher: out of memory (kinship)");
    const double weights[KINDS] = {c->kin_definition, c->kin_access, c->kin_titles, c->kin_tags,
                                   c->kin_macro};
    for (int kind = 0; kind < KINDS; kind++)
        if (add_kind(m, kind, weights[kind]))
            return px_error_set(
                err, PX_ENOMEM,
                "matcher: out of memory, or over %u distinct words in the fiches' texts",
                KINSHIP_MAX_WORDS);
    add_parents(m, c->kin_parent);
    m->kinship_total = c->kin_definition + c->kin_access + c->kin_titles + c->kin_tags +
                       c->kin_macro + c->kin_parent;
    /* a fiche is not its own kin (it is never suggested to itself; this keeps K's rows honest) */
    for (size_t f = 0; f < n; f++) m->kinship[f * n + f] = 0;
    return 0;
}

/* ---- entry level ---- */

static word_key key_of(const char *w) {
    word_key k = 0;
    memcpy(&k, w, strlen(w) < STEM_BYTES ? strlen(w) : STEM_BYTES);
    return k;
}

/* French diploma levels (the national nomenclature: 3 CAP/BEP, 4 Bac, 5 Bac+2, 6 Bac+3/4,
 * 7 Bac+5, 8 doctorat); keeps the lowest named, where one can start. */
static void level_word(word_key key, void *opaque) {
    uint8_t *lowest = opaque;
    static const struct {
        const char *word;
        uint8_t level;
    } levels[] = {{"cap", 3}, {"bep", 3},       {"baccalaureat", 4}, {"bts", 5},
                  {"dut", 5}, {"deust", 5},     {"licence", 6},      {"master", 7},
                  {"mba", 7}, {"ingenieur", 7}, {"doctorat", 8},     {"docteur", 8}};
    for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++)
        if (key == key_of(levels[k].word) && (!*lowest || levels[k].level < *lowest))
            *lowest = levels[k].level;
}

static bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* The lowest diploma level the accès au métier text names, or 0 when it names none. "Bac" alone
 * is 4, "Bac+N" / "Bac + N" the Bac's level plus N years, read from the raw text since the word
 * splitter drops the one-digit N. */
uint8_t matcher_entry_level(const char *text) {
    uint8_t lowest = 0;
    for_each_word(text, level_word, &lowest);
    for (const char *p = text; (p = strpbrk(p, "Bb")) != NULL; p++) {
        if ((p > text && is_letter(p[-1])) || (p[1] != 'a' && p[1] != 'A') ||
            (p[2] != 'c' && p[2] != 'C') || is_letter(p[3]))
            continue;
        const char *q = p + 3;
        while (*q == ' ') q++;
        uint8_t level = 4;
        if (*q == '+') {
            for (q++; *q == ' '; q++) continue;
            int years = 0; /* "Bac + 11" (some medical specialities): more digits than one */
            for (; *q >= '0' && *q <= '9' && years < 100; q++) years = years * 10 + (*q - '0');
            level = (uint8_t)(years >= 8 ? 8 : years >= 5 ? 7 : years >= 3 ? 6 : years ? 5 : 4);
        }
        if (!lowest || level < lowest) lowest = level;
    }
    return lowest;
}
