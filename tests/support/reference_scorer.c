/* reference_scorer — see the header. Everything here follows docs/matching.md; "DOC:" marks a
 * reading of a point the document leaves open. */
#include "reference_scorer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KINDS 6
enum { K_DEF = 0, K_ACCESS = 1, K_TITLES = 2, K_TAGS = 3, K_MACRO = 4, K_PARENT = 5 };
#define STEM_LETTERS 7
#define MIN_LETTERS  3

/* A sparse vector of length 1: ids ascending. */
typedef struct vec {
    uint32_t n;
    uint32_t *id;
    double *w;
} vec;

/* A growable list of ids (the words of one fiche before counting). */
typedef struct ids {
    uint32_t *v;
    size_t n, cap;
} ids;

/* Stem → id, open addressing (a stem is at most 7 bytes, so it packs into a uint64). */
typedef struct vocab {
    uint64_t *keys; /* 0 = empty */
    uint32_t *vals;
    size_t cap;
    uint32_t n;
} vocab;

struct ref_scorer {
    const rome_index *idx;
    matcher_config cfg;
    double *spec;         /* per item: ln(N/df)/ln(N) */
    double *t;            /* per item: ln(N/df) (0 when no fiche lists it) */
    double *W;            /* per fiche: Σ w(f,i) */
    double *tnorm;        /* per fiche: ‖[· ∈ f]·t‖ */
    uint8_t *level;       /* per fiche */
    vec *vecs[KINDS - 1]; /* per kind (parent apart): per fiche */
};

/* ---------- words ---------- */

/* The next code point of s (advancing *pos); a byte that is not valid UTF-8 counts as one
 * separator. */
static uint32_t next_cp(const unsigned char *s, size_t *pos) {
    unsigned char c = s[*pos];
    if (c < 0x80) {
        (*pos)++;
        return c;
    }
    int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    uint32_t cp = len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
    if (len == 1) {
        (*pos)++;
        return ' ';
    }
    for (int k = 1; k < len; k++) {
        if ((s[*pos + k] & 0xC0) != 0x80) {
            (*pos)++;
            return ' ';
        }
        cp = cp << 6 | (s[*pos + k] & 0x3Fu);
    }
    *pos += (size_t)len;
    return cp;
}

/* The lower-case unaccented letters of a code point ("" when it separates words). DOC: §3 says
 * "letters"; digits are word characters too here, as in the engine ("300" is a word, "2" of
 * "Bac+2" is too short to be one). */
static const char *fold(uint32_t cp, char buf[2]) {
    buf[1] = '\0';
    if (cp >= 'A' && cp <= 'Z') cp += 32;
    if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
        buf[0] = (char)cp;
        return buf;
    }
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) cp += 32; /* Latin-1 capitals */
    switch (cp) {
    case 0xE0:
    case 0xE1:
    case 0xE2:
    case 0xE3:
    case 0xE4:
    case 0xE5: return "a";
    case 0xE6: return "ae";
    case 0xE7: return "c";
    case 0xE8:
    case 0xE9:
    case 0xEA:
    case 0xEB: return "e";
    case 0xEC:
    case 0xED:
    case 0xEE:
    case 0xEF: return "i";
    case 0xF1: return "n";
    case 0xF2:
    case 0xF3:
    case 0xF4:
    case 0xF5:
    case 0xF6:
    case 0xF8: return "o";
    case 0xF9:
    case 0xFA:
    case 0xFB:
    case 0xFC: return "u";
    case 0xFD:
    case 0xFF: return "y";
    case 0xDF: return "ss";
    case 0x152:
    case 0x153: return "oe";
    default: return "";
    }
}

/* DOC: "not a French stop word" does not say which words; §1's examples (de, la, du, en, et,
 * pour) are under 3 letters but "pour". This is the engine's list (checked: with §1's list the
 * définition similarities differ by up to 0.045), function words of ROME's texts. */
static bool stop_word(const char *w) {
    static const char *const stops[] = {
        "aux",     "avec",   "ces",    "cet",  "cette", "chez",  "dans",  "des",  "elle",
        "entre",   "est",    "etre",   "leur", "leurs", "les",   "lors",  "par",  "peut",
        "peuvent", "plus",   "pour",   "que",  "qui",   "ses",   "son",   "sont", "sur",
        "tout",    "toute",  "toutes", "tous", "une",   "selon", "ainsi", "afin", "autre",
        "autres",  "aupres", "vers",   "sous", "non",   "etc",
    };
    for (size_t k = 0; k < sizeof stops / sizeof stops[0]; k++)
        if (!strcmp(stops[k], w)) return true;
    return false;
}

/* Calls emit(word) for each kinship stem of text. */
typedef void (*stem_fn)(void *ctx, const char *stem);

static void finish_word(char *w, size_t len, stem_fn emit, void *ctx) {
    w[len] = '\0';
    if (len < MIN_LETTERS || stop_word(w)) return;
    /* DOC: the plural is dropped before the word is cut to 7 letters ("manutentions" and
     * "manutention" both give "manuten"), and only from words of 5+ letters (the engine's
     * choice; §1 drops it from 4+ letters for titles), after the 3-letter and stop-word tests. */
    if (len >= 5 && (w[len - 1] == 's' || w[len - 1] == 'x')) w[--len] = '\0';
    if (len > STEM_LETTERS) w[STEM_LETTERS] = '\0';
    emit(ctx, w);
}

static void stems(const char *text, stem_fn emit, void *ctx) {
    const unsigned char *s = (const unsigned char *)text;
    char word[256];
    size_t len = 0, pos = 0;
    while (s[pos]) {
        char buf[2];
        const char *letters = fold(next_cp(s, &pos), buf);
        if (!*letters) {
            if (len) finish_word(word, len, emit, ctx);
            len = 0;
            continue;
        }
        for (; *letters; letters++)
            if (len < sizeof word - 1) word[len++] = *letters;
    }
    if (len) finish_word(word, len, emit, ctx);
}

typedef struct stem_buf {
    char *out;
    size_t cap, len;
} stem_buf;

static void stem_to_buf(void *ctx, const char *stem) {
    stem_buf *b = ctx;
    size_t n = strlen(stem);
    if (b->len + n + 2 > b->cap) return;
    if (b->len) b->out[b->len++] = ' ';
    memcpy(b->out + b->len, stem, n);
    b->len += n;
    b->out[b->len] = '\0';
}

void ref_stems(const char *text, char *out, size_t cap) {
    stem_buf b = {out, cap, 0};
    if (cap) out[0] = '\0';
    stems(text, stem_to_buf, &b);
}

/* ---------- vocabulary and vectors ---------- */

static uint64_t pack(const char *stem) {
    uint64_t k = 0;
    for (size_t i = 0; stem[i]; i++) k |= (uint64_t)(unsigned char)stem[i] << (8 * i);
    return k;
}

static int vocab_id(vocab *v, uint64_t key, uint32_t *id) {
    if ((size_t)v->n * 2 >= v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        uint64_t *keys = calloc(cap, sizeof *keys);
        uint32_t *vals = calloc(cap, sizeof *vals);
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return -1;
        }
        for (size_t i = 0; i < v->cap; i++) {
            if (!v->keys[i]) continue;
            size_t h = (size_t)(v->keys[i] * 0x9E3779B97F4A7C15ULL >> 20) & (cap - 1);
            while (keys[h]) h = (h + 1) & (cap - 1);
            keys[h] = v->keys[i];
            vals[h] = v->vals[i];
        }
        free(v->keys);
        free(v->vals);
        v->keys = keys;
        v->vals = vals;
        v->cap = cap;
    }
    size_t h = (size_t)(key * 0x9E3779B97F4A7C15ULL >> 20) & (v->cap - 1);
    while (v->keys[h] && v->keys[h] != key) h = (h + 1) & (v->cap - 1);
    if (!v->keys[h]) {
        v->keys[h] = key;
        v->vals[h] = v->n++;
    }
    *id = v->vals[h];
    return 0;
}

static int ids_push(ids *l, uint32_t id) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uint32_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = id;
    return 0;
}

typedef struct word_ctx {
    vocab *voc;
    ids *out;
    int failed;
} word_ctx;

static void word_to_id(void *ctx, const char *stem) {
    word_ctx *c = ctx;
    uint32_t id;
    if (vocab_id(c->voc, pack(stem), &id) || ids_push(c->out, id)) c->failed = 1;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Turns the word lists of every fiche into tf-idf vectors of length 1:
 * (1 + ln tf) · ln(N / df), df = fiches whose list holds the word. */
static int make_vectors(ids *lists, uint32_t n_fiches, uint32_t n_words, vec *out) {
    uint32_t *df = calloc(n_words ? n_words : 1, sizeof *df);
    if (!df) return -1;
    for (uint32_t f = 0; f < n_fiches; f++) {
        if (lists[f].n) qsort(lists[f].v, lists[f].n, sizeof *lists[f].v, cmp_u32);
        for (size_t k = 0; k < lists[f].n; k++)
            if (!k || lists[f].v[k] != lists[f].v[k - 1]) df[lists[f].v[k]]++;
    }
    for (uint32_t f = 0; f < n_fiches; f++) {
        vec *v = &out[f];
        v->id = malloc((lists[f].n ? lists[f].n : 1) * sizeof *v->id);
        v->w = malloc((lists[f].n ? lists[f].n : 1) * sizeof *v->w);
        if (!v->id || !v->w) {
            free(df);
            return -1;
        }
        double norm = 0;
        for (size_t k = 0; k < lists[f].n;) {
            size_t end = k;
            while (end < lists[f].n && lists[f].v[end] == lists[f].v[k]) end++;
            uint32_t id = lists[f].v[k];
            double w = (1.0 + log((double)(end - k))) * log((double)n_fiches / df[id]);
            if (w > 0) {
                v->id[v->n] = id;
                v->w[v->n++] = w;
                norm += w * w;
            }
            k = end;
        }
        for (uint32_t k = 0; k < v->n; k++) v->w[k] /= sqrt(norm);
    }
    free(df);
    return 0;
}

static double cosine(const vec *a, const vec *b) {
    double dot = 0;
    for (uint32_t i = 0, j = 0; i < a->n && j < b->n;) {
        if (a->id[i] < b->id[j])
            i++;
        else if (a->id[i] > b->id[j])
            j++;
        else
            dot += a->w[i++] * b->w[j++];
    }
    return dot;
}

/* ---------- the entry level of a fiche ---------- */

/* The lower-case unaccented text with every non-letter, non-digit, non-'+' as a space. */
static void plain_text(const char *text, char *out, size_t cap) {
    const unsigned char *s = (const unsigned char *)text;
    size_t pos = 0, len = 0;
    while (s[pos] && len + 3 < cap) {
        uint32_t cp = next_cp(s, &pos);
        char buf[2];
        const char *l = fold(cp, buf);
        if (*l) {
            while (*l) out[len++] = *l++;
        } else {
            out[len++] = (cp >= '0' && cp <= '9') || cp == '+' ? (char)cp : ' ';
        }
    }
    out[len] = '\0';
}

/* §3 "Level": 3 CAP/BEP, 4 Bac, 5 Bac+2/BTS/DUT, 6 Bac+3/Licence, 7 Bac+5/Master/ingénieur,
 * 8 doctorat; the lowest named. A name counts as a whole word, also in the plural
 * ("ingénieurs"). DOC: the list is open ("Bac+2/BTS/DUT"); like the engine this also reads
 * "baccalauréat" as Bac, DEUST as Bac+2, MBA as Master and "docteur" (Diplôme d'État de docteur
 * en médecine) as doctorat. "Bac+N read as such": Bac+1 and Bac+2 are 5, Bac+3 and Bac+4 6,
 * Bac+5 to Bac+7 7, Bac+8 and beyond (Bac + 11, Bac + 13 for medical specialities) 8. */
static int text_level(const char *text) {
    static const struct {
        const char *word;
        int level;
    } names[] = {
        {"cap", 3}, {"bep", 3},       {"baccalaureat", 4}, {"bts", 5},
        {"dut", 5}, {"deust", 5},     {"licence", 6},      {"master", 7},
        {"mba", 7}, {"ingenieur", 7}, {"doctorat", 8},     {"docteur", 8},
    };
    size_t cap = strlen(text) * 2 + 8;
    char *plain = malloc(cap);
    if (!plain) return 0;
    plain_text(text, plain, cap);
    int best = 0;
    for (char *p = plain; *p;) {
        while (*p == ' ' || *p == '+') p++;
        char *start = p;
        while (*p && *p != ' ' && *p != '+') p++;
        size_t len = (size_t)(p - start);
        if (!len) continue;
        int level = 0;
        if (len == 3 && !memcmp(start, "bac", 3)) {
            /* "Bac", "Bac+2", "Bac + 2", "Bac +2" */
            char *q = p;
            while (*q == ' ') q++;
            level = 4;
            if (*q == '+') {
                q++;
                while (*q == ' ') q++;
                int years = 0;
                while (*q >= '0' && *q <= '9' && years < 100) years = years * 10 + (*q++ - '0');
                level = years >= 8 ? 8 : years >= 5 ? 7 : years >= 3 ? 6 : years ? 5 : 4;
            }
        } else {
            for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
                size_t n = strlen(names[k].word);
                if ((len == n || (len == n + 1 && (start[n] == 's' || start[n] == 'x'))) &&
                    !memcmp(start, names[k].word, n))
                    level = names[k].level;
            }
        }
        if (level && (!best || level < best)) best = level;
    }
    free(plain);
    return best;
}

/* ---------- build ---------- */

static uint32_t macro_of(const rome_index *idx, uint32_t i) {
    return (idx->items[i].flags & ROME_ITEM_MACRO) ? i : idx->items[i].macro;
}

static double importance_weight(const matcher_config *cfg, uint8_t imp) {
    return imp == ROME_IMPORTANCE_PRINCIPALE  ? cfg->weight_principale
           : imp == ROME_IMPORTANCE_EMERGENTE ? cfg->weight_emergente
                                              : cfg->weight_other;
}

static double kind_weight(const ref_scorer *rs, uint32_t i) {
    return rs->idx->items[i].kind == ROME_KIND_SAVOIR_ETRE ? rs->cfg.savoir_etre_factor : 1.0;
}

/* w(f, i) for link k of fiche_items. */
static double link_w(const ref_scorer *rs, uint32_t k) {
    uint32_t i = rs->idx->fiche_items.targets[k];
    return importance_weight(&rs->cfg, rs->idx->fiche_items.importance[k]) * kind_weight(rs, i) *
           rs->spec[i];
}

void ref_scorer_free(ref_scorer *rs) {
    if (!rs) return;
    for (int k = 0; k < KINDS - 1; k++) {
        if (!rs->vecs[k]) continue;
        for (uint32_t f = 0; f < rs->idx->n.fiches; f++) {
            free(rs->vecs[k][f].id);
            free(rs->vecs[k][f].w);
        }
        free(rs->vecs[k]);
    }
    free(rs->spec);
    free(rs->t);
    free(rs->W);
    free(rs->tnorm);
    free(rs->level);
    free(rs);
}

static int build_vectors(ref_scorer *rs) {
    const rome_index *idx = rs->idx;
    uint32_t nf = idx->n.fiches;
    vocab voc = {0};
    ids *lists = NULL;
    int rc = -1;
    for (int kind = 0; kind < KINDS - 1; kind++) {
        lists = calloc(nf, sizeof *lists);
        rs->vecs[kind] = calloc(nf, sizeof *rs->vecs[kind]);
        if (!lists || !rs->vecs[kind]) goto out;
        uint32_t n_words = 0;
        for (uint32_t f = 0; f < nf; f++) {
            const rome_fiche *fi = &idx->fiches[f];
            word_ctx ctx = {&voc, &lists[f], 0};
            if (kind == K_DEF) {
                stems(rome_str(idx, fi->definition), word_to_id, &ctx);
            } else if (kind == K_ACCESS) {
                stems(rome_str(idx, fi->acces), word_to_id, &ctx);
            } else if (kind == K_TITLES) {
                /* DOC: "its label and all its appellations": the fiche's libelle_rome and each
                 * appellation's long label (both genders, as ROME writes it). */
                stems(rome_str(idx, fi->label), word_to_id, &ctx);
                const uint32_t *apps = rome_csr_targets(&idx->fiche_appellations, f);
                for (uint32_t k = 0; k < rome_csr_count(&idx->fiche_appellations, f); k++)
                    stems(rome_str(idx, idx->appellations[apps[k]].label_long), word_to_id, &ctx);
            } else if (kind == K_TAGS) {
                const uint32_t *tags = rome_csr_targets(&idx->fiche_tags, f);
                for (uint32_t k = 0; k < rome_csr_count(&idx->fiche_tags, f); k++)
                    if (ids_push(&lists[f], tags[k])) ctx.failed = 1;
            } else {
                const uint32_t *items = rome_csr_targets(&idx->fiche_items, f);
                for (uint32_t k = 0; k < rome_csr_count(&idx->fiche_items, f); k++) {
                    uint32_t m = macro_of(idx, items[k]);
                    if (m != ROME_NONE && ids_push(&lists[f], m)) ctx.failed = 1;
                }
            }
            if (ctx.failed) goto out;
        }
        n_words = kind == K_TAGS ? idx->n.tags : kind == K_MACRO ? idx->n.items : voc.n;
        if (make_vectors(lists, nf, n_words, rs->vecs[kind])) goto out;
        for (uint32_t f = 0; f < nf; f++) free(lists[f].v);
        free(lists);
        lists = NULL;
    }
    rc = 0;
out:
    if (lists)
        for (uint32_t f = 0; f < nf; f++) free(lists[f].v);
    free(lists);
    free(voc.keys);
    free(voc.vals);
    return rc;
}

ref_scorer *ref_scorer_new(const rome_index *idx, const matcher_config *cfg) {
    ref_scorer *rs = calloc(1, sizeof *rs);
    if (!rs) return NULL;
    rs->idx = idx;
    rs->cfg = *cfg;
    uint32_t nf = idx->n.fiches, ni = idx->n.items;
    rs->spec = calloc(ni ? ni : 1, sizeof *rs->spec);
    rs->t = calloc(ni ? ni : 1, sizeof *rs->t);
    rs->W = calloc(nf, sizeof *rs->W);
    rs->tnorm = calloc(nf, sizeof *rs->tnorm);
    rs->level = calloc(nf, 1);
    if (!rs->spec || !rs->t || !rs->W || !rs->tnorm || !rs->level) goto fail;
    for (uint32_t i = 0; i < ni; i++) {
        uint32_t df = rome_csr_count(&idx->item_fiches, i);
        /* DOC: §3's t_i = ln(N / df) is undefined for an item no fiche lists (only `added` reaches
         * one); it is taken as df = 1 (the engine's choice, checked): the person's vector is
         * longer, so P falls, as for any held item the job lacks. */
        rs->t[i] =
            kind_weight(rs, i) * log((double)nf / (df ? df : 1)); /* §3: t_i = kind · ln(N/df) */
        rs->spec[i] = df ? log((double)nf / df) / log((double)nf) : 0.0;
    }
    for (uint32_t f = 0; f < nf; f++) {
        double tn = 0;
        for (uint32_t k = idx->fiche_items.offsets[f]; k < idx->fiche_items.offsets[f + 1]; k++) {
            uint32_t i = idx->fiche_items.targets[k];
            rs->W[f] += link_w(rs, k);
            tn += rs->t[i] * rs->t[i];
        }
        rs->tnorm[f] = sqrt(tn);
        rs->level[f] = (uint8_t)text_level(rome_str(idx, idx->fiches[f].acces));
    }
    if (build_vectors(rs)) goto fail;
    return rs;
fail:
    ref_scorer_free(rs);
    return NULL;
}

int ref_fiche_level(const ref_scorer *rs, uint32_t f) { return rs->level[f]; }

double ref_sim(const ref_scorer *rs, int kind, uint32_t a, uint32_t b) {
    if (kind == K_PARENT) {
        const char *pa = rs->idx->fiches[a].parent, *pb = rs->idx->fiches[b].parent;
        return *pa && !strcmp(pa, pb) ? 1.0 : 0.0;
    }
    return cosine(&rs->vecs[kind][a], &rs->vecs[kind][b]);
}

double ref_kin(const ref_scorer *rs, uint32_t a, uint32_t b) {
    const matcher_config *c = &rs->cfg;
    const double v[KINDS] = {c->kin_definition, c->kin_access, c->kin_titles,
                             c->kin_tags,       c->kin_macro,  c->kin_parent};
    double num = 0, den = 0;
    if (a == b) return 0.0; /* kin(F, F) = 0 */
    for (int k = 0; k < KINDS; k++) {
        num += v[k] * ref_sim(rs, k, a, b);
        den += v[k];
    }
    return den > 0 ? num / den : 0.0;
}

/* ---------- scoring a profile ---------- */

void ref_result_free(ref_result *r) {
    free(r->held);
    free(r->macro);
    free(r->fiches);
    free(r->jobs);
    memset(r, 0, sizeof *r);
}

static bool has_code(const profile_codes *c, uint32_t code) {
    for (size_t k = 0; k < c->n; k++)
        if (c->v[k] == code) return true;
    return false;
}

static bool fiche_lists_item(const rome_index *idx, uint32_t f, uint32_t item) {
    return rome_fiche_item_importance(idx, f, item) >= 0;
}

static bool fiche_lists_contexte(const rome_index *idx, uint32_t f, uint32_t code) {
    uint32_t c = rome_contexte_find(idx, code);
    if (c == ROME_NONE) return false;
    const uint32_t *ctx = rome_csr_targets(&idx->fiche_contextes, f);
    for (uint32_t k = 0; k < rome_csr_count(&idx->fiche_contextes, f); k++)
        if (ctx[k] == c) return true;
    return false;
}

static bool in_domains(const rome_index *idx, const profile_strings *list, uint32_t f) {
    const char *gd = idx->grands_domaines[idx->fiches[f].grand_domaine].code;
    const char *d = idx->domaines[idx->fiches[f].domaine].code;
    for (size_t k = 0; k < list->n; k++)
        if (!strcmp(list->v[k], gd) || !strcmp(list->v[k], d)) return true;
    return false;
}

static bool known_domain(const rome_index *idx, const char *code) {
    return rome_grand_domaine_find(idx, code) != ROME_NONE ||
           rome_domaine_find(idx, code) != ROME_NONE;
}

/* The lowest code_ogr among constraint c's contextes that fiche f lists, or 0. DOC: §4 does not
 * say which contexte a removal names when the fiche lists several; the engine names the lowest
 * code (checked), not the first in the constraint's order. */
static uint32_t first_contexte(const rome_index *idx, const matcher_constraint *c, uint32_t f) {
    uint32_t best = 0;
    for (uint32_t j = 0; j < c->n_codes; j++)
        if (fiche_lists_contexte(idx, f, c->codes[j]) && (!best || c->codes[j] < best))
            best = c->codes[j];
    return best;
}

/* §4: why named constraint c removes fiche f (MATCH_EVIDENCE_NONE when it does not). */
static uint8_t named_removal(const ref_scorer *rs, const matcher_constraint *c, uint32_t f,
                             uint32_t *code) {
    const rome_index *idx = rs->idx;
    uint32_t ctx = first_contexte(idx, c, f);
    if (ctx) {
        *code = ctx;
        return MATCH_EVIDENCE_CONTEXTE;
    }
    uint32_t item = 0; /* likewise the lowest item code */
    for (uint32_t j = 0; j < c->n_items; j++) {
        uint32_t i = rome_item_find(idx, c->items[j]); /* unknown item codes are ignored */
        if (i != ROME_NONE && fiche_lists_item(idx, f, i) && (!item || c->items[j] < item))
            item = c->items[j];
    }
    if (item) {
        *code = item;
        return MATCH_EVIDENCE_COMPETENCE;
    }
    uint32_t parent =
        idx->fiches[f].parent[0] ? rome_fiche_find(idx, idx->fiches[f].parent) : ROME_NONE;
    if (parent != ROME_NONE && parent != f && first_contexte(idx, c, parent)) {
        /* DOC: match_removal.code is "the contexte or item code_ogr, or the domaine's id"; for a
         * parent it is the parent fiche's id (the engine's choice, checked). */
        *code = parent;
        return MATCH_EVIDENCE_PARENT;
    }
    uint32_t d = idx->fiches[f].domaine, in = 0, with = 0;
    for (uint32_t g = 0; g < idx->n.fiches; g++) {
        if (idx->fiches[g].domaine != d) continue;
        in++;
        with += first_contexte(idx, c, g) != 0;
    }
    if (in && (double)with >= rs->cfg.constraint_domain_share * in) {
        *code = d;
        return MATCH_EVIDENCE_DOMAIN;
    }
    return MATCH_EVIDENCE_NONE;
}

static const matcher_constraint *find_constraint(const matcher_config *cfg, const char *name,
                                                 int32_t *at) {
    for (uint32_t k = 0; k < cfg->n_constraints; k++)
        if (!strcmp(cfg->constraints[k].name, name)) {
            *at = (int32_t)k;
            return &cfg->constraints[k];
        }
    return NULL;
}

typedef struct ranked {
    double score;
    uint32_t f;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->f < y->f ? -1 : x->f > y->f;
}

/* §1: d(months) · r(end_year) · confidence · extra. */
static double experience_weight(const matcher_config *cfg, const profile *p,
                                const profile_experience *x, double confidence) {
    double d = 1.0, r = 1.0;
    if (x->months >= 0) {
        double q = log(1.0 + x->months) / log(121.0);
        d = 0.5 + 0.5 * (q < 1.0 ? q : 1.0);
    }
    if (p->as_of_year > 0 && x->end_year >= 0 && p->as_of_year - x->end_year > 2) {
        r = 1.0 - cfg->recency_decay * (p->as_of_year - 2 - x->end_year);
        if (r < cfg->recency_floor) r = cfg->recency_floor;
    }
    return confidence * d * r * (x->extra ? cfg->extra_weight : 1.0);
}

int ref_score(const ref_scorer *rs, const profile *p, const match_experience *resolved,
              ref_result *out) {
    const rome_index *idx = rs->idx;
    const matcher_config *cfg = &rs->cfg;
    uint32_t nf = idx->n.fiches, ni = idx->n.items;
    if (p->n_experiences > MATCHER_MAX_EXPERIENCES) return -1;
    if (!out->held) {
        out->held = malloc(ni * sizeof *out->held);
        out->macro = malloc(ni * sizeof *out->macro);
        out->fiches = malloc(nf * sizeof *out->fiches);
        out->jobs = malloc(nf * sizeof *out->jobs);
        if (!out->held || !out->macro || !out->fiches || !out->jobs) return -1;
    }
    memset(out->held, 0, ni * sizeof *out->held);
    memset(out->macro, 0, ni * sizeof *out->macro);
    memset(out->fiches, 0, nf * sizeof *out->fiches);
    out->n_jobs = 0;

    /* §1: each experience's fiche and weight */
    out->n_exp = p->n_experiences;
    out->person_level = 0;
    out->person_cadre = false;
    double sum_ew = 0;
    for (size_t e = 0; e < p->n_experiences; e++) {
        const profile_experience *x = &p->experiences[e];
        uint32_t f = ROME_NONE, app = ROME_NONE;
        double conf = 1.0;
        if (x->kind == PROFILE_EXP_APPELLATION) {
            if ((app = rome_appellation_find(idx, x->appellation)) == ROME_NONE) return -1;
            f = idx->appellations[app].fiche;
        } else if (x->kind == PROFILE_EXP_ROME) {
            if ((f = rome_fiche_find(idx, x->rome)) == ROME_NONE) return -1;
        } else if (resolved && resolved[e].resolved) {
            f = resolved[e].fiche;
            app = resolved[e].appellation;
            conf = resolved[e].confidence;
        }
        out->exp_fiche[e] = f;
        out->ew[e] = f == ROME_NONE ? 0.0 : experience_weight(cfg, p, x, conf);
        sum_ew += out->ew[e];
        if (f == ROME_NONE || x->extra) continue;
        out->fiches[f].own = true;
        if (rs->level[f] > out->person_level) out->person_level = rs->level[f];
        /* DOC: "none of whose jobs (fiche or appellation) is cadre": jobs are the non-extra
         * experiences, as for the level. The cadre factor does not depend on the person's
         * diploma level being known ("Unknown levels change nothing" is about the gap). */
        if ((idx->fiches[f].flags & ROME_FICHE_CADRE) ||
            (app != ROME_NONE && (idx->appellations[app].flags & ROME_APPELLATION_CADRE)))
            out->person_cadre = true;
    }
    /* §3 "Level": someone whose jobs name no diploma level starts from CAP (3) */
    if (!out->person_level && sum_ew > 0) out->person_level = 3;

    /* §3 "What the person holds" */
    for (size_t e = 0; e < p->n_experiences; e++) {
        uint32_t f = out->exp_fiche[e];
        if (f == ROME_NONE) continue;
        const uint32_t *items = rome_csr_targets(&idx->fiche_items, f);
        for (uint32_t k = 0; k < rome_csr_count(&idx->fiche_items, f); k++) {
            uint32_t i = items[k];
            if (idx->items[i].flags & ROME_ITEM_QUALIFICATION) continue; /* never inferred */
            double h = cfg->inferred_confidence * out->ew[e];
            if (h > out->held[i]) out->held[i] = h;
        }
    }
    const profile_codes *lists[3] = {&p->confirmed, &p->added, &p->rejected};
    for (int l = 0; l < 3; l++)
        for (size_t k = 0; k < lists[l]->n; k++)
            if (rome_item_find(idx, lists[l]->v[k]) == ROME_NONE) return -1;
    for (size_t k = 0; k < p->confirmed.n; k++)
        out->held[rome_item_find(idx, p->confirmed.v[k])] = 1.0;
    for (size_t k = 0; k < p->added.n; k++) out->held[rome_item_find(idx, p->added.v[k])] = 1.0;
    /* DOC: a code both confirmed and rejected counts as rejected (the engine's input always has
     * one list per code after profile_apply_decisions; a hand-made profile may not). */
    for (size_t k = 0; k < p->rejected.n; k++)
        out->held[rome_item_find(idx, p->rejected.v[k])] = 0.0;
    for (uint32_t i = 0; i < ni; i++) {
        uint32_t m = macro_of(idx, i);
        if (m != ROME_NONE && out->held[i] > out->macro[m]) out->macro[m] = out->held[i];
    }
    double held_norm = 0;
    for (uint32_t i = 0; i < ni; i++)
        held_norm += out->held[i] * rs->t[i] * out->held[i] * rs->t[i];
    held_norm = sqrt(held_norm);

    /* avoid entries, in the engine's order */
    out->n_entries = 0;
    if (p->avoid_contextes.n + p->avoid_named.n > MATCHER_MAX_AVOID) return -1;
    for (size_t k = 0; k < p->avoid_contextes.n; k++) {
        if (rome_contexte_find(idx, p->avoid_contextes.v[k]) == ROME_NONE) return -1;
        out->entries[out->n_entries++] = (ref_entry){-1, p->avoid_contextes.v[k], 0, 0, {0}};
    }
    for (size_t k = 0; k < p->avoid_named.n; k++) {
        int32_t at = -1;
        if (!find_constraint(cfg, p->avoid_named.v[k], &at)) return -1;
        out->entries[out->n_entries++] = (ref_entry){at, 0, 0, 0, {0}};
    }
    for (size_t k = 0; k < p->domains.n; k++)
        if (!known_domain(idx, p->domains.v[k])) return -1;
    for (size_t k = 0; k < p->exclude_domains.n; k++)
        if (!known_domain(idx, p->exclude_domains.v[k])) return -1;

    /* §3: the score of every fiche, by a scan of its items */
    const double a_k = cfg->kin_definition + cfg->kin_access + cfg->kin_titles + cfg->kin_tags +
                       cfg->kin_macro + cfg->kin_parent;
    const double a_sum = cfg->score_competences + cfg->score_related + cfg->score_profile + a_k;
    out->scored = 0;
    for (uint32_t f = 0; f < nf; f++) {
        ref_fiche *rf = &out->fiches[f];
        double c = 0, r = 0, pnum = 0;
        bool quals = false, qual_open = false;
        for (uint32_t k = idx->fiche_items.offsets[f]; k < idx->fiche_items.offsets[f + 1]; k++) {
            uint32_t i = idx->fiche_items.targets[k];
            const rome_item *it = &idx->items[i];
            double w = link_w(rs, k), h = out->held[i];
            c += h * w;
            pnum += h * rs->t[i] * rs->t[i];
            uint32_t m = macro_of(idx, i);
            if (h == 0 && !has_code(&p->rejected, it->code_ogr) && m != ROME_NONE)
                r += out->macro[m] * w;
            if (h > 0 && ((it->kind == ROME_KIND_SAVOIR_FAIRE && !(it->flags & ROME_ITEM_MACRO)) ||
                          it->kind == ROME_KIND_SAVOIR))
                rf->evidence = true;
            if (it->flags & ROME_ITEM_QUALIFICATION) {
                quals = true;
                if (h > 0) qual_open = true; /* held only when confirmed or added */
                for (size_t e = 0; e < p->n_experiences && !qual_open; e++)
                    if (out->exp_fiche[e] != ROME_NONE && !p->experiences[e].extra &&
                        fiche_lists_item(idx, out->exp_fiche[e], i))
                        qual_open = true;
            }
        }
        rf->c = rs->W[f] > 0 ? c / rs->W[f] : 0;
        rf->r = rs->W[f] > 0 ? r / rs->W[f] : 0;
        rf->p = held_norm > 0 && rs->tnorm[f] > 0 ? pnum / (held_norm * rs->tnorm[f]) : 0;
        double k = 0;
        for (size_t e = 0; e < p->n_experiences; e++)
            if (out->exp_fiche[e] != ROME_NONE) k += out->ew[e] * ref_kin(rs, out->exp_fiche[e], f);
        rf->k = sum_ew > 0 ? k / sum_ew : 0;
        double level = 1.0;
        int gap = rs->level[f] && out->person_level ? rs->level[f] - out->person_level : 0;
        if (gap >= 2) level /= 1.0 + cfg->level_penalty * (gap - 1);
        if ((idx->fiches[f].flags & ROME_FICHE_CADRE) && !out->person_cadre)
            level *= 1.0 - cfg->cadre_penalty;
        rf->level = level;
        double mean = (cfg->score_competences * rf->c + cfg->score_related * rf->r +
                       cfg->score_profile * rf->p + a_k * rf->k) /
                      a_sum;
        rf->score = level * mean;
        /* own fiches are reported in `current` with their own score, before any preference */
        if (p->domains.n && !in_domains(idx, &p->domains, f) && !rf->own)
            rf->score /= 1.0 + cfg->domain_boost;
        out->scored += rf->score > 0;
        rf->excluded_domain = in_domains(idx, &p->exclude_domains, f);
        rf->regulated_gap = (idx->fiches[f].flags & ROME_FICHE_REGLEMENTE) && quals && !qual_open;
        for (uint32_t a = 0; a < out->n_entries; a++) {
            const ref_entry *en = &out->entries[a];
            uint8_t why = MATCH_EVIDENCE_NONE;
            uint32_t code = 0;
            if (en->named < 0) {
                if (fiche_lists_contexte(idx, f, en->contexte)) {
                    why = MATCH_EVIDENCE_CONTEXTE;
                    code = en->contexte;
                }
            } else {
                why = named_removal(rs, &cfg->constraints[en->named], f, &code);
            }
            if (why == MATCH_EVIDENCE_NONE) continue;
            rf->avoided |= 1ull << a;
            rf->because[a] = why;
            rf->because_code[a] = code;
        }
    }

    /* §3 "Selection" and §4 "What the constraints cost" */
    ranked *order = malloc(nf * sizeof *order);
    if (!order) return -1;
    for (uint32_t f = 0; f < nf; f++) order[f] = (ranked){out->fiches[f].score, f};
    if (nf) qsort(order, nf, sizeof *order, cmp_ranked);
    out->offerable = out->removed_by_domain = out->removed_regulated = out->n_regulated_best = 0;
    for (uint32_t n = 0; n < nf; n++) {
        uint32_t f = order[n].f;
        const ref_fiche *rf = &out->fiches[f];
        if (!(rf->score > 0) || !rf->evidence || rf->own) continue;
        out->offerable++;
        for (uint32_t a = 0; a < out->n_entries; a++) {
            ref_entry *en = &out->entries[a];
            if (!(rf->avoided >> a & 1u)) continue;
            if (en->n_best < MATCHER_MAX_REMOVALS) en->best[en->n_best++] = f;
            en->removed++;
        }
        out->removed_by_domain += rf->excluded_domain;
        /* DOC: "counted in excluded.regulated …, and listed … when the profile sets
         * include_regulated": when listed they are not held back, so not counted (the engine's
         * reading, checked). */
        if (rf->regulated_gap && !p->include_regulated) {
            if (out->n_regulated_best < MATCHER_MAX_REMOVALS)
                out->regulated_best[out->n_regulated_best++] = f;
            out->removed_regulated++;
        }
    }
    /* the evidence rule: the first evidence_places go to jobs with evidence, then the best */
    uint32_t top = cfg->top, reserved = cfg->evidence_places < top ? cfg->evidence_places : top;
    bool *taken = calloc(nf, sizeof *taken);
    if (!taken) {
        free(order);
        return -1;
    }
    bool full = false;
    for (int pass = 0; pass < 2; pass++, full = out->n_jobs == reserved)
        for (uint32_t n = 0; n < nf && out->n_jobs < (pass ? top : reserved); n++) {
            uint32_t f = order[n].f;
            const ref_fiche *rf = &out->fiches[f];
            if (taken[f] || !(rf->score > 0) || rf->own || rf->avoided || rf->excluded_domain ||
                (rf->regulated_gap && !p->include_regulated))
                continue;
            if (pass == 0 && !rf->evidence) continue;
            if (pass == 1 && !full) break; /* §3: fewer jobs with evidence: the list ends */
            taken[f] = true;
            out->jobs[out->n_jobs++] = f;
        }
    free(taken);
    free(order);
    return 0;
}
